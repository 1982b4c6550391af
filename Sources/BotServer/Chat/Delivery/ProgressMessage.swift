import Logging

/// A run's progress message: sent once when the run starts (with its Cancel button), then
/// edited as the run goes, at most once per `interval` unless something the user waits on
/// happened (an approval decided, a tool finished). Its final content (the answer, or the
/// end-of-run card) is not its business: that is stored and sent by DurableOutbox as an
/// edit of this message, which the outbox makes final (later progress edits are dropped).
actor ProgressMessage {
    private let outbox: TelegramOutbox
    private let key: ConversationKey
    private let interval: Duration
    private let logger: Logger
    private var editor: Throttled<ProgressFrame>?
    private(set) var messageID: Int64?
    private var closed = false
    /// Offered before the message was sent: shown as soon as it is.
    private var early: (frame: ProgressFrame, urgent: Bool)?

    init(outbox: TelegramOutbox, key: ConversationKey, interval: Duration, logger: Logger) {
        self.outbox = outbox
        self.key = key
        self.interval = interval
        self.logger = logger
    }

    /// Sends the message; the run goes on without it if Telegram will not take it.
    @discardableResult
    func open(_ frame: ProgressFrame) async -> Int64? {
        do {
            let message = try await outbox.send(SendMessage(
                chatID: key.chatID, messageThreadID: key.threadID, text: frame.html, parseMode: .html, replyMarkup: frame.markup))
            messageID = message.messageID
            let outbox = outbox, chatID = key.chatID, messageID = message.messageID
            let editor = Throttled<ProgressFrame>(interval: interval, initial: frame) { frame in
                _ = try? await outbox.edit(
                    EditMessageText(chatID: chatID, messageID: messageID, text: frame.html, parseMode: .html, replyMarkup: frame.markup),
                    priority: .background)
            }
            self.editor = editor
            if closed { await editor.close(wait: false) }
            // What happened while the message was on its way shows now.
            if let early {
                self.early = nil
                await editor.offer(early.frame, urgent: early.urgent)
            }
            return message.messageID
        } catch {
            logger.warning("progress message not sent; the run goes on without it", metadata: ["error": "\(error)"])
            return nil
        }
    }

    func show(_ frame: ProgressFrame, urgent: Bool = false) async {
        guard !closed else { return }
        guard let editor else {
            early = (frame, urgent || (early?.urgent ?? false))
            return
        }
        await editor.offer(frame, urgent: urgent)
    }

    /// No more progress: the message is about to get its final content.
    func close() async -> Int64? {
        closed = true
        early = nil
        await editor?.close(wait: false)
        return messageID
    }
}

/// One state of the progress message; the Cancel button goes while the run can be cancelled.
struct ProgressFrame: Sendable, Equatable {
    var html: String
    var markup: InlineKeyboardMarkup?
}
