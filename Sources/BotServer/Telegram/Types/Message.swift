import ClaudeRunner

struct User: Codable, Sendable, Equatable {
    let id: Int64
    let isBot: Bool
    let firstName: String
    let lastName: String?
    let username: String?
    let languageCode: String?

    enum CodingKeys: String, CodingKey {
        case id
        case isBot = "is_bot"
        case firstName = "first_name"
        case lastName = "last_name"
        case username
        case languageCode = "language_code"
    }
}

struct Chat: Codable, Sendable, Equatable {
    let id: Int64
    /// "private", "group", "supergroup" or "channel".
    let type: String
    let title: String?
    let username: String?
    let isForum: Bool?

    enum CodingKeys: String, CodingKey {
        case id, type, title, username
        case isForum = "is_forum"
    }

    var isPrivate: Bool { type == "private" }
}

/// A formatting or semantic span; offsets and lengths count UTF-16 code units.
struct MessageEntity: Codable, Sendable, Equatable {
    let type: String
    let offset: Int
    let length: Int
    let url: String?
    let language: String?
}

struct PhotoSize: Decodable, Sendable {
    let fileID: String
    let fileUniqueID: String
    let width: Int
    let height: Int
    let fileSize: Int64?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case width, height
        case fileSize = "file_size"
    }
}

/// The file fields shared by voice notes, audio files and documents.
struct FileAttachment: Decodable, Sendable {
    let fileID: String
    let fileUniqueID: String
    let fileName: String?
    let mimeType: String?
    let fileSize: Int64?
    /// Seconds, for voice and audio.
    let duration: Int?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case fileName = "file_name"
        case mimeType = "mime_type"
        case fileSize = "file_size"
        case duration
    }
}

/// A message as the bot receives it. Most fields are optional because most kinds of
/// message lack most of them; only what the bot reads is decoded.
struct Message: Decodable, Sendable {
    let messageID: Int64
    let messageThreadID: Int64?
    let isTopicMessage: Bool?
    let from: User?
    let chat: Chat
    let date: Int64
    let text: String?
    let entities: [MessageEntity]?
    let caption: String?
    let captionEntities: [MessageEntity]?
    let photo: [PhotoSize]?
    let voice: FileAttachment?
    let audio: FileAttachment?
    let document: FileAttachment?
    let mediaGroupID: String?
    /// The message this one replies to (itself without a further reply: Telegram does not nest them).
    let replyToMessage: RepliedMessage?
    let migrateToChatID: Int64?
    /// Set on forwarded messages (MessageOrigin); old clients also send forward_date.
    let forwardOrigin: JSONValue?
    let forwardDate: Int64?
    /// A message of the bot's, as a callback query carries it: its buttons now.
    let replyMarkup: ReceivedKeyboard?

    var isForwarded: Bool { forwardOrigin != nil || forwardDate != nil }

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case messageThreadID = "message_thread_id"
        case isTopicMessage = "is_topic_message"
        case from, chat, date, text, entities, caption
        case captionEntities = "caption_entities"
        case photo, voice, audio, document
        case mediaGroupID = "media_group_id"
        case replyToMessage = "reply_to_message"
        case migrateToChatID = "migrate_to_chat_id"
        case forwardOrigin = "forward_origin"
        case forwardDate = "forward_date"
        case replyMarkup = "reply_markup"
    }

    /// A message cannot contain itself; the replied-to message is kept behind a reference.
    final class RepliedMessage: Decodable, Sendable {
        let message: Message
        init(from decoder: any Decoder) throws { message = try Message(from: decoder) }
    }
}

/// An inline keyboard as received. One that does not decode (a kind of button the bot never
/// sends) is nil: it must not make the whole update unreadable.
struct ReceivedKeyboard: Decodable, Sendable {
    let markup: InlineKeyboardMarkup?

    init(from decoder: any Decoder) throws { markup = try? InlineKeyboardMarkup(from: decoder) }
}

struct CallbackQuery: Decodable, Sendable {
    let id: String
    let from: User
    /// The message with the button; absent for inline-mode messages.
    let message: Message?
    let data: String?
}

struct File: Decodable, Sendable {
    let fileID: String
    let fileUniqueID: String
    let fileSize: Int64?
    /// Where to download it from: `<base>/file/bot<token>/<file_path>`; absent if not downloadable.
    let filePath: String?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case fileSize = "file_size"
        case filePath = "file_path"
    }
}

struct WebhookInfo: Decodable, Sendable {
    let url: String
    let hasCustomCertificate: Bool
    let pendingUpdateCount: Int
    let ipAddress: String?
    let lastErrorDate: Int64?
    let lastErrorMessage: String?
    let maxConnections: Int?
    let allowedUpdates: [String]?

    enum CodingKeys: String, CodingKey {
        case url
        case hasCustomCertificate = "has_custom_certificate"
        case pendingUpdateCount = "pending_update_count"
        case ipAddress = "ip_address"
        case lastErrorDate = "last_error_date"
        case lastErrorMessage = "last_error_message"
        case maxConnections = "max_connections"
        case allowedUpdates = "allowed_updates"
    }
}

struct BotCommand: Codable, Sendable, Equatable {
    let command: String
    let description: String
}
