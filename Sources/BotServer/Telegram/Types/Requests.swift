/// Parameters of the methods the bot calls. Encoded as JSON with exactly the Bot API's
/// field names; optional fields that are nil are left out. Limits Telegram enforces are
/// checked before sending (`validate()`), so a bug shows up as a clear error here rather
/// than as a 400 from Telegram.
protocol TelegramRequest: Encodable, Sendable {
    static var method: String { get }
    func validate() throws(TelegramError)
}

extension TelegramRequest {
    func validate() throws(TelegramError) {}
}

enum TelegramLimits {
    static let messageText = 4096
    static let caption = 1024
    static let callbackData = 64
    static let callbackAnswerText = 200
    /// getFile downloads for bots on the cloud API.
    static let downloadBytes = 20 * 1024 * 1024
    static let uploadBytes = 50 * 1024 * 1024
    static let photoUploadBytes = 10 * 1024 * 1024

    /// The raw text, tags included, is limited too ("text is too long").
    static let rawTextBytes = 32_768

    /// Telegram counts the length after entity parsing: for HTML, the visible text. The raw
    /// text has a byte limit of its own.
    static func checkText(_ text: String, parseMode: ParseMode?, limit: Int, what: String) throws(TelegramError) {
        guard text.utf8.count <= rawTextBytes else {
            throw .invalidRequest("\(what) is \(text.utf8.count) bytes as written, over Telegram's \(rawTextBytes)")
        }
        try checkText(parseMode == .html ? TelegramHTML.visibleText(text) : text, limit: limit, what: what)
    }

    /// Counts Unicode code points (as TDLib does) of text as Telegram shows it.
    static func checkText(_ text: String, limit: Int, what: String) throws(TelegramError) {
        let length = text.unicodeScalars.count
        guard length > 0 else { throw .invalidRequest("\(what) is empty") }
        guard length <= limit else { throw .invalidRequest("\(what) has \(length) characters, over the limit of \(limit)") }
    }
}

struct InlineKeyboardButton: Codable, Sendable, Equatable {
    let text: String
    let callbackData: String?
    let url: String?

    enum CodingKeys: String, CodingKey {
        case text
        case callbackData = "callback_data"
        case url
    }

    static func callback(_ text: String, data: String) -> InlineKeyboardButton {
        InlineKeyboardButton(text: text, callbackData: data, url: nil)
    }

    static func link(_ text: String, url: String) -> InlineKeyboardButton {
        InlineKeyboardButton(text: text, callbackData: nil, url: url)
    }

    func validate() throws(TelegramError) {
        guard !text.isEmpty else { throw .invalidRequest("a button has no text") }
        switch (callbackData, url) {
        case (let data?, nil):
            let bytes = data.utf8.count
            guard (1...TelegramLimits.callbackData).contains(bytes) else {
                throw .invalidRequest("callback data of \(bytes) bytes; Telegram takes 1 to 64")
            }
        case (nil, let url?):
            guard !url.isEmpty else { throw .invalidRequest("a link button has an empty URL") }
        default:
            throw .invalidRequest("a button needs exactly one of callback data and URL")
        }
    }
}

struct InlineKeyboardMarkup: Codable, Sendable, Equatable {
    let inlineKeyboard: [[InlineKeyboardButton]]

    enum CodingKeys: String, CodingKey { case inlineKeyboard = "inline_keyboard" }

    init(_ rows: [[InlineKeyboardButton]]) { inlineKeyboard = rows }

    /// Without the row that has the button with `callbackData`; nil when no row is left.
    func removingRow(with callbackData: String) -> InlineKeyboardMarkup? {
        let rows = inlineKeyboard.filter { row in !row.contains { $0.callbackData == callbackData } }
        return rows.isEmpty ? nil : InlineKeyboardMarkup(rows)
    }

    func validate() throws(TelegramError) {
        for row in inlineKeyboard { for button in row { try button.validate() } }
    }
}

struct ReplyParameters: Codable, Sendable, Equatable {
    let messageID: Int64
    let allowSendingWithoutReply: Bool?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case allowSendingWithoutReply = "allow_sending_without_reply"
    }
}

struct LinkPreviewOptions: Codable, Sendable, Equatable {
    let isDisabled: Bool

    enum CodingKeys: String, CodingKey { case isDisabled = "is_disabled" }
}

enum ParseMode: String, Codable, Sendable {
    case html = "HTML"
}

struct SendMessage: TelegramRequest {
    static let method = "sendMessage"
    var chatID: Int64
    var messageThreadID: Int64?
    var text: String
    var parseMode: ParseMode?
    var replyMarkup: InlineKeyboardMarkup?
    var replyParameters: ReplyParameters?
    var linkPreviewOptions: LinkPreviewOptions? = LinkPreviewOptions(isDisabled: true)
    var disableNotification: Bool?

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageThreadID = "message_thread_id"
        case text
        case parseMode = "parse_mode"
        case replyMarkup = "reply_markup"
        case replyParameters = "reply_parameters"
        case linkPreviewOptions = "link_preview_options"
        case disableNotification = "disable_notification"
    }

    func validate() throws(TelegramError) {
        try TelegramLimits.checkText(text, parseMode: parseMode, limit: TelegramLimits.messageText, what: "message text")
        try replyMarkup?.validate()
    }
}

struct EditMessageText: TelegramRequest {
    static let method = "editMessageText"
    var chatID: Int64
    var messageID: Int64
    var text: String
    var parseMode: ParseMode?
    var replyMarkup: InlineKeyboardMarkup?
    var linkPreviewOptions: LinkPreviewOptions? = LinkPreviewOptions(isDisabled: true)

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageID = "message_id"
        case text
        case parseMode = "parse_mode"
        case replyMarkup = "reply_markup"
        case linkPreviewOptions = "link_preview_options"
    }

    func validate() throws(TelegramError) {
        try TelegramLimits.checkText(text, parseMode: parseMode, limit: TelegramLimits.messageText, what: "message text")
        try replyMarkup?.validate()
    }
}

/// Replaces the inline keyboard; nil `replyMarkup` removes it.
struct EditMessageReplyMarkup: TelegramRequest {
    static let method = "editMessageReplyMarkup"
    var chatID: Int64
    var messageID: Int64
    var replyMarkup: InlineKeyboardMarkup?

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageID = "message_id"
        case replyMarkup = "reply_markup"
    }

    func validate() throws(TelegramError) { try replyMarkup?.validate() }
}

struct DeleteMessage: TelegramRequest {
    static let method = "deleteMessage"
    var chatID: Int64
    var messageID: Int64

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageID = "message_id"
    }
}

struct AnswerCallbackQuery: TelegramRequest {
    static let method = "answerCallbackQuery"
    var callbackQueryID: String
    var text: String?
    var showAlert: Bool?

    enum CodingKeys: String, CodingKey {
        case callbackQueryID = "callback_query_id"
        case text
        case showAlert = "show_alert"
    }

    func validate() throws(TelegramError) {
        if let text, text.unicodeScalars.count > TelegramLimits.callbackAnswerText {
            throw .invalidRequest("callback answer over \(TelegramLimits.callbackAnswerText) characters")
        }
    }
}

enum ChatAction: String, Codable, Sendable {
    case typing, uploadPhoto = "upload_photo", uploadDocument = "upload_document", recordVoice = "record_voice"
}

struct SendChatAction: TelegramRequest {
    static let method = "sendChatAction"
    var chatID: Int64
    var messageThreadID: Int64?
    var action: ChatAction

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageThreadID = "message_thread_id"
        case action
    }
}

struct GetFile: TelegramRequest {
    static let method = "getFile"
    var fileID: String

    enum CodingKeys: String, CodingKey { case fileID = "file_id" }
}

struct GetMe: TelegramRequest {
    static let method = "getMe"
}

struct GetWebhookInfo: TelegramRequest {
    static let method = "getWebhookInfo"
}

struct SetWebhook: TelegramRequest {
    static let method = "setWebhook"
    var url: String
    var secretToken: String?
    var allowedUpdates: [String]?
    var maxConnections: Int?
    var dropPendingUpdates: Bool?

    enum CodingKeys: String, CodingKey {
        case url
        case secretToken = "secret_token"
        case allowedUpdates = "allowed_updates"
        case maxConnections = "max_connections"
        case dropPendingUpdates = "drop_pending_updates"
    }

    func validate() throws(TelegramError) {
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw .invalidRequest("webhook URL must be an http(s) URL")
        }
        if let maxConnections, !(1...100).contains(maxConnections) {
            throw .invalidRequest("max_connections must be 1 to 100")
        }
    }
}

struct DeleteWebhook: TelegramRequest {
    static let method = "deleteWebhook"
    var dropPendingUpdates: Bool?

    enum CodingKeys: String, CodingKey { case dropPendingUpdates = "drop_pending_updates" }
}

struct GetUpdates: TelegramRequest {
    static let method = "getUpdates"
    var offset: Int64?
    var limit: Int?
    /// Seconds to hold the request open waiting for updates (long polling).
    var timeout: Int?
    var allowedUpdates: [String]?

    enum CodingKeys: String, CodingKey {
        case offset, limit, timeout
        case allowedUpdates = "allowed_updates"
    }
}

struct SetMyCommands: TelegramRequest {
    static let method = "setMyCommands"
    var commands: [BotCommand]

    func validate() throws(TelegramError) {
        guard commands.count <= 100 else { throw .invalidRequest("more than 100 commands") }
        for command in commands {
            let name = command.command
            guard (1...32).contains(name.count),
                name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            else { throw .invalidRequest("command '\(name)' must be 1-32 of a-z, 0-9 and _") }
            guard (1...256).contains(command.description.count) else {
                throw .invalidRequest("the description of /\(name) must be 1-256 characters")
            }
        }
    }
}

/// A reaction on a message: the bot shows it took a prompt (👀) without a message of its own.
struct SetMessageReaction: TelegramRequest {
    static let method = "setMessageReaction"
    var chatID: Int64
    var messageID: Int64
    /// One emoji from Telegram's fixed set; empty removes the bot's reaction.
    var emoji: String?

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageID = "message_id"
        case reaction
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(chatID, forKey: .chatID)
        try container.encode(messageID, forKey: .messageID)
        try container.encode(emoji.map { [["type": "emoji", "emoji": $0]] } ?? [], forKey: .reaction)
    }
}

/// Streams a partial answer as an animated draft (Bot API 9.3+, all bots and private chats
/// since 9.5). Ephemeral: the final answer must still be sent with sendMessage.
struct SendMessageDraft: TelegramRequest {
    static let method = "sendMessageDraft"
    var chatID: Int64
    var messageThreadID: Int64?
    /// Non-zero; the same id animates changes of one draft.
    var draftID: Int64
    var text: String
    var parseMode: ParseMode?
    /// Shows a stop button under the draft (10.3); a tap arrives as stopped_message_generation.
    var canStop: Bool?

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id"
        case messageThreadID = "message_thread_id"
        case draftID = "draft_id"
        case text
        case parseMode = "parse_mode"
        case canStop = "can_stop"
    }

    func validate() throws(TelegramError) {
        guard draftID != 0 else { throw .invalidRequest("draft_id must not be 0") }
        guard chatID > 0 else { throw .invalidRequest("drafts are only for private chats") }
        guard !text.isEmpty else { return }  // empty shows "Thinking…"
        try TelegramLimits.checkText(text, parseMode: parseMode, limit: TelegramLimits.messageText, what: "draft text")
    }
}
