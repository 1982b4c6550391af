/// What the host writes to the CLI's stdin: one compact JSON object per line. A line that
/// is not JSON kills the CLI, so every line is produced here from a JSONValue.
enum HostMessage {
    static func user(_ content: UserContent, uuid: String) -> JSONValue {
        [
            "type": "user", "session_id": "", "parent_tool_use_id": nil, "uuid": .string(uuid),
            "message": ["role": "user", "content": content.json],
        ]
    }

    static func controlRequest(id: String, subtype: String, _ fields: [String: JSONValue] = [:]) -> JSONValue {
        var request = fields
        request["subtype"] = .string(subtype)
        return ["type": "control_request", "request_id": .string(id), "request": .object(request)]
    }

    static func controlSuccess(id: String, _ response: JSONValue) -> JSONValue {
        ["type": "control_response", "response": ["subtype": "success", "request_id": .string(id), "response": response]]
    }

    static func controlError(id: String, _ message: String) -> JSONValue {
        ["type": "control_response", "response": ["subtype": "error", "request_id": .string(id), "error": .string(message)]]
    }

    static func line(_ value: JSONValue) -> [UInt8] { value.serialized() + [UInt8(ascii: "\n")] }
}

/// A user message: plain text, or content blocks (text and images, as the Messages API takes them).
public enum UserContent: Sendable, Equatable {
    case text(String)
    case blocks([JSONValue])

    /// An image block from base64 data (e.g. a photo from Telegram).
    public static func image(mediaType: String, base64: String) -> JSONValue {
        ["type": "image", "source": ["type": "base64", "media_type": .string(mediaType), "data": .string(base64)]]
    }

    public static func textBlock(_ text: String) -> JSONValue { ["type": "text", "text": .string(text)] }

    var json: JSONValue {
        switch self {
        case .text(let text): return .string(text)
        case .blocks(let blocks): return .array(blocks)
        }
    }
}
