import Logging

/// The conversation seam's default until the chat layer plugs in: it records each
/// update it is given in the log, so that an operator (and the restart tests) can see
/// exactly what was delivered, once.
struct LoggingConversationHandler: ConversationHandler {
    let logger: Logger

    func handle(_ update: InboxRecord, attempt: Int) async throws {
        logger.info(
            "update delivered",
            metadata: [
                "update_id": "\(update.updateID)", "kind": "\(update.kind)",
                "conversation": "\(update.conversation.map(\.description) ?? "none")", "attempt": "\(attempt)",
            ])
    }
}
