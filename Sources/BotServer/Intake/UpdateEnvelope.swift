import ClaudeRunner
import FoundationEssentials

/// The little the intake needs from an update: its id, its kind and the conversation
/// it belongs to. The full payload is stored as received; the chat layer decodes it.
/// Unknown fields and kinds are ignored, so new Bot API versions never break intake.
struct UpdateEnvelope: Decodable, Sendable {
    let updateID: Int64
    /// The update's one optional field (message, callback_query, ...); "unknown" if it has none.
    let kind: String
    let conversation: ConversationKey?

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        updateID = try container.decode(Int64.self, forKey: AnyKey(stringValue: "update_id"))
        // A real update has exactly one field besides update_id. Should a future one carry
        // more, the first object-valued field by name is taken, so the choice is deterministic.
        let candidates = container.allKeys.filter { $0.stringValue != "update_id" }
            .sorted { $0.stringValue < $1.stringValue }
        for key in candidates {
            if let carrier = try? container.decode(ConversationCarrier.self, forKey: key) {
                kind = key.stringValue
                conversation = carrier.conversationKey
                return
            }
        }
        kind = candidates.first?.stringValue ?? "unknown"
        conversation = nil
    }
}

/// Whatever object an update wraps: a Message, a CallbackQuery (whose message says where
/// it was tapped), a ChatMemberUpdated, ... Only the fields that locate a conversation.
private final class ConversationCarrier: Decodable, Sendable {
    private struct ChatReference: Decodable { let id: Int64 }
    private struct UserReference: Decodable { let id: Int64 }

    let chatID: Int64?
    let threadID: Int64?
    let isTopicMessage: Bool?
    let isMessage: Bool
    let message: ConversationCarrier?
    let userID: Int64?

    private enum CodingKeys: String, CodingKey {
        case chat, message_thread_id, is_topic_message, message_id, message, from, user
    }

    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        chatID = (try? container.decodeIfPresent(ChatReference.self, forKey: .chat))?.id
        threadID = try? container.decodeIfPresent(Int64.self, forKey: .message_thread_id)
        isTopicMessage = try? container.decodeIfPresent(Bool.self, forKey: .is_topic_message)
        isMessage = container.contains(.message_id)
        message = try? container.decodeIfPresent(ConversationCarrier.self, forKey: .message)
        userID =
            (try? container.decodeIfPresent(UserReference.self, forKey: .from))?.id
            ?? (try? container.decodeIfPresent(UserReference.self, forKey: .user))?.id
    }

    var conversationKey: ConversationKey? {
        if let chatID {
            return ConversationKey(chatID: chatID, threadID: topicThreadID)
        }
        // A callback query locates its conversation through the message that carried the button.
        if let key = message?.conversationKey { return key }
        // Updates without a chat (inline queries, ...) belong to the user's private chat,
        // whose id is the user id.
        return userID.map { ConversationKey(chatID: $0, threadID: nil) }
    }

    /// Messages carry message_thread_id for reply threads too; only a forum topic (or a
    /// private-chat topic) is its own conversation, and those are marked is_topic_message.
    private var topicThreadID: Int64? {
        guard let threadID else { return nil }
        if isMessage { return isTopicMessage == true ? threadID : nil }
        return threadID
    }
}

/// How a webhook body was classified.
enum UpdateClassification: Sendable {
    case update(UpdateEnvelope)
    /// Valid JSON that is not an update: kept as a dead letter and acknowledged.
    case notAnUpdate(reason: String)
    /// Not JSON at all.
    case malformed(reason: String)

    init(body: [UInt8]) {
        do {
            self = .update(try JSONDecoder().decode(UpdateEnvelope.self, from: Data(body)))
        } catch DecodingError.dataCorrupted {
            // JSONDecoder reports both broken syntax and a non-integer update_id this way;
            // only a second, schema-free parse tells them apart (and only on this error path).
            if (try? JSONDecoder().decode(JSONValue.self, from: Data(body))) != nil {
                self = .notAnUpdate(reason: "update_id is not an integer")
            } else {
                self = .malformed(reason: "body is not valid JSON")
            }
        } catch let DecodingError.keyNotFound(key, _) {
            self = .notAnUpdate(reason: "missing \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            self = .notAnUpdate(reason: path.isEmpty ? "not a JSON object" : "\(path) has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            self = .notAnUpdate(reason: "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is null")
        } catch {
            self = .notAnUpdate(reason: "not an update")
        }
    }
}

