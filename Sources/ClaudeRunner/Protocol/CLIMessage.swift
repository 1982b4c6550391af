/// One line of the CLI's stream-json output, typed. Built from a parsed JSON value field by
/// field: unknown types and fields are kept as `.other` / ignored, never an error.
public enum CLIMessage: Sendable {
    case systemInit(SystemInit)
    /// The CLI is about to retry an API request (overloaded, 5xx, a bad key).
    case apiRetry(APIRetry)
    /// Any other `system` subtype (status, task_started, session_state_changed, ...).
    case system(subtype: String, JSONValue)
    case assistant(AssistantMessage)
    case user(UserMessage)
    case streamEvent(StreamEvent)
    case result(ResultMessage)
    /// The CLI asks the host something (can_use_tool, hook_callback, ...); answer with the same id.
    case controlRequest(id: String, subtype: String, JSONValue)
    case controlResponse(id: String, outcome: Result<JSONValue, ControlError>)
    /// The CLI withdrew one of its own requests (e.g. a pending can_use_tool after an interrupt).
    case controlCancelRequest(id: String)
    case other(type: String, JSONValue)

    public struct ControlError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(_ json: JSONValue) {
        let type = json["type"]?.string ?? ""
        switch type {
        case "system":
            let subtype = json["subtype"]?.string ?? ""
            switch subtype {
            case "init": self = .systemInit(SystemInit(json))
            case "api_retry": self = .apiRetry(APIRetry(json))
            default: self = .system(subtype: subtype, json)
            }
        case "assistant": self = .assistant(AssistantMessage(json))
        case "user": self = .user(UserMessage(json))
        case "stream_event": self = .streamEvent(StreamEvent(json["event"] ?? .null))
        case "result": self = .result(ResultMessage(json))
        case "control_request":
            let request = json["request"] ?? .null
            self = .controlRequest(
                id: json["request_id"]?.string ?? "", subtype: request["subtype"]?.string ?? "", request)
        case "control_response":
            let response = json["response"] ?? .null
            let id = response["request_id"]?.string ?? ""
            if response["subtype"]?.string == "success" {
                self = .controlResponse(id: id, outcome: .success(response["response"] ?? .null))
            } else {
                self = .controlResponse(id: id, outcome: .failure(ControlError(message: response["error"]?.string ?? "error")))
            }
        case "control_cancel_request": self = .controlCancelRequest(id: json["request_id"]?.string ?? "")
        default: self = .other(type: type, json)
        }
    }
}

public struct SystemInit: Sendable, Equatable {
    public let sessionID: String
    public let model: String?
    public let permissionMode: String?
    public let tools: [String]
    public let workingDirectory: String?
    public let claudeCodeVersion: String?

    init(_ json: JSONValue) {
        sessionID = json["session_id"]?.string ?? ""
        model = json["model"]?.string
        permissionMode = json["permissionMode"]?.string
        tools = json["tools"]?.array?.compactMap(\.string) ?? []
        workingDirectory = json["cwd"]?.string
        claudeCodeVersion = json["claude_code_version"]?.string
    }
}

public struct APIRetry: Sendable, Equatable {
    public let attempt: Int
    public let maxRetries: Int
    public let retryDelayMilliseconds: Int
    public let errorStatus: Int?
    /// authentication_failed, overloaded, server_error, ...
    public let error: String?

    init(_ json: JSONValue) {
        attempt = json["attempt"]?.int ?? 0
        maxRetries = json["max_retries"]?.int ?? 0
        retryDelayMilliseconds = json["retry_delay_ms"]?.int ?? 0
        errorStatus = json["error_status"]?.int
        error = json["error"]?.string
    }
}

public enum ContentBlock: Sendable, Equatable {
    case text(String)
    case thinking(String)
    case toolUse(id: String, name: String, input: JSONValue)
    case other(type: String)

    init(_ json: JSONValue) {
        switch json["type"]?.string ?? "" {
        case "text": self = .text(json["text"]?.string ?? "")
        case "thinking": self = .thinking(json["thinking"]?.string ?? "")
        case "tool_use": self = .toolUse(id: json["id"]?.string ?? "", name: json["name"]?.string ?? "", input: json["input"] ?? [:])
        case let type: self = .other(type: type)
        }
    }
}

/// One completed content block of the assistant (the CLI writes a line per block).
public struct AssistantMessage: Sendable, Equatable {
    public let messageID: String
    public let content: [ContentBlock]
    /// Set for a subagent's messages: the Agent tool call they belong to.
    public let parentToolUseID: String?
    /// The partial text of a turn cut off by an interrupt.
    public let aborted: Bool
    /// authentication_failed, rate_limit, server_error, ... on a synthetic error message.
    public let error: String?

    init(_ json: JSONValue) {
        let message = json["message"] ?? .null
        messageID = message["id"]?.string ?? ""
        content = message["content"]?.array?.map(ContentBlock.init) ?? []
        parentToolUseID = json["parent_tool_use_id"]?.string
        aborted = json["aborted"]?.bool ?? false
        error = json["error"]?.string
    }
}

public struct ToolResult: Sendable, Equatable {
    public let toolUseID: String
    /// The result as text (content blocks joined).
    public let content: String
    public let isError: Bool
}

/// What the CLI reports back as the user's side: tool results, and its own notes
/// ("[Request interrupted by user]").
public struct UserMessage: Sendable, Equatable {
    public let toolResults: [ToolResult]
    public let text: String?
    public let isReplay: Bool

    init(_ json: JSONValue) {
        let content = json["message"]?["content"]
        var results: [ToolResult] = []
        var texts: [String] = []
        if let text = content?.string { texts.append(text) }
        for block in content?.array ?? [] {
            switch block["type"]?.string {
            case "tool_result":
                results.append(ToolResult(
                    toolUseID: block["tool_use_id"]?.string ?? "", content: Self.text(of: block["content"]),
                    isError: block["is_error"]?.bool ?? false))
            case "text":
                if let text = block["text"]?.string { texts.append(text) }
            default:
                break
            }
        }
        toolResults = results
        text = texts.isEmpty ? nil : texts.joined(separator: "\n")
        isReplay = json["isReplay"]?.bool ?? false
    }

    private static func text(of content: JSONValue?) -> String {
        if let text = content?.string { return text }
        return content?.array?.compactMap { $0["text"]?.string }.joined(separator: "\n") ?? ""
    }
}

/// A raw Anthropic SSE event forwarded by `--include-partial-messages`.
public enum StreamEvent: Sendable, Equatable {
    case textDelta(String)
    case thinkingDelta(String)
    case messageStart
    case other(type: String)

    init(_ event: JSONValue) {
        let type = event["type"]?.string ?? ""
        switch type {
        case "content_block_delta":
            let delta = event["delta"] ?? .null
            switch delta["type"]?.string {
            case "text_delta": self = .textDelta(delta["text"]?.string ?? "")
            case "thinking_delta": self = .thinkingDelta(delta["thinking"]?.string ?? "")
            default: self = .other(type: "content_block_delta")
            }
        case "message_start": self = .messageStart
        default: self = .other(type: type)
        }
    }
}

public struct Usage: Sendable, Equatable {
    public var inputTokens = 0
    public var outputTokens = 0
    public var cacheCreationInputTokens = 0
    public var cacheReadInputTokens = 0

    public init() {}

    init(_ json: JSONValue?) {
        inputTokens = json?["input_tokens"]?.int ?? 0
        outputTokens = json?["output_tokens"]?.int ?? 0
        cacheCreationInputTokens = json?["cache_creation_input_tokens"]?.int ?? 0
        cacheReadInputTokens = json?["cache_read_input_tokens"]?.int ?? 0
    }
}

public struct PermissionDenial: Sendable, Equatable {
    public let toolName: String
    public let toolUseID: String
}

/// The end of a turn. API failures arrive as subtype "success" with `isError` and
/// `apiErrorStatus`; interrupts as "error_during_execution".
public struct ResultMessage: Sendable, Equatable {
    public let subtype: String
    public let isError: Bool
    public let result: String?
    public let sessionID: String
    public let totalCostUSD: Double
    public let usage: Usage
    public let durationMilliseconds: Int
    /// Cumulative over the session (it keeps counting across --resume), not per message:
    /// measured by bench/claude-runner. Per-run figures are differences of consecutive results.
    public let apiDurationMilliseconds: Int
    public let numTurns: Int
    public let permissionDenials: [PermissionDenial]
    /// completed, aborted_streaming, aborted_tools, api_error, prompt_too_long, blocking_limit, ...
    public let terminalReason: String?
    public let apiErrorStatus: Int?
    /// The `uuid`s of the user messages this result answers.
    public let userMessageUUIDs: [String]
    /// Why an error_during_execution result failed ("No conversation found with session ID: ...").
    public let errors: [String]

    init(_ json: JSONValue) {
        subtype = json["subtype"]?.string ?? ""
        isError = json["is_error"]?.bool ?? false
        result = json["result"]?.string
        sessionID = json["session_id"]?.string ?? ""
        totalCostUSD = json["total_cost_usd"]?.double ?? 0
        usage = Usage(json["usage"])
        durationMilliseconds = json["duration_ms"]?.int ?? 0
        apiDurationMilliseconds = json["duration_api_ms"]?.int ?? 0
        numTurns = json["num_turns"]?.int ?? 0
        permissionDenials = json["permission_denials"]?.array?.map {
            PermissionDenial(toolName: $0["tool_name"]?.string ?? "", toolUseID: $0["tool_use_id"]?.string ?? "")
        } ?? []
        terminalReason = json["terminal_reason"]?.string
        apiErrorStatus = json["api_error_status"]?.int
        var uuids = json["user_message_uuids"]?.array?.compactMap(\.string) ?? []
        if let single = json["user_message_uuid"]?.string, !uuids.contains(single) { uuids.append(single) }
        userMessageUUIDs = uuids
        errors = json["errors"]?.array?.compactMap(\.string) ?? []
    }
}
