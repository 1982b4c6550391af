/// One incoming update. Only the kinds the bot acts on are decoded; any other kind (and
/// any unknown field) is ignored, so a new Bot API version never breaks decoding.
struct Update: Decodable, Sendable {
    let updateID: Int64
    let message: Message?
    let editedMessage: Message?
    let channelPost: Message?
    let callbackQuery: CallbackQuery?
    let myChatMember: ChatMemberUpdated?
    let stoppedMessageGeneration: MessageGenerationStopped?

    enum CodingKeys: String, CodingKey {
        case updateID = "update_id"
        case message
        case editedMessage = "edited_message"
        case channelPost = "channel_post"
        case callbackQuery = "callback_query"
        case myChatMember = "my_chat_member"
        case stoppedMessageGeneration = "stopped_message_generation"
    }

    /// Every update kind the bot handles: what `allowed_updates` lists for setWebhook and getUpdates.
    static let handledKinds = [
        "message", "edited_message", "callback_query", "my_chat_member", "stopped_message_generation",
    ]
}

/// The bot's own membership changed, e.g. a user blocked it ("kicked" in a private chat).
struct ChatMemberUpdated: Decodable, Sendable {
    let chat: Chat
    let from: User
    let date: Int64
    let newChatMember: ChatMember

    enum CodingKeys: String, CodingKey {
        case chat, from, date
        case newChatMember = "new_chat_member"
    }

    struct ChatMember: Decodable, Sendable {
        let status: String
        let user: User
    }
}

/// The user pressed the stop button of a streamed draft (Bot API 10.3).
struct MessageGenerationStopped: Decodable, Sendable {
    let chat: Chat
    let messageThreadID: Int64?
    let draftID: Int64

    enum CodingKeys: String, CodingKey {
        case chat
        case messageThreadID = "message_thread_id"
        case draftID = "draft_id"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        chat = try container.decode(Chat.self, forKey: .chat)
        messageThreadID = try container.decodeIfPresent(Int64.self, forKey: .messageThreadID)
        // Documented as Integer, observed on the wire as a string ("1"): accept both.
        if let number = try? container.decode(Int64.self, forKey: .draftID) {
            draftID = number
        } else if let text = try? container.decode(String.self, forKey: .draftID), let number = Int64(text) {
            draftID = number
        } else {
            throw DecodingError.dataCorruptedError(
                forKey: .draftID, in: container, debugDescription: "draft_id is neither an integer nor a numeric string")
        }
    }
}
