/// Identifies a conversation: a chat, or one forum topic within a chat. Updates of one
/// conversation are handled in order; different conversations run independently.
struct ConversationKey: Hashable, Sendable, CustomStringConvertible {
    var chatID: Int64
    var threadID: Int64?

    init(chatID: Int64, threadID: Int64? = nil) {
        self.chatID = chatID
        self.threadID = threadID
    }

    var description: String {
        threadID.map { "\(chatID)/\($0)" } ?? "\(chatID)"
    }
}
