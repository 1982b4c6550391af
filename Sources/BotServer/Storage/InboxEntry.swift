/// An update as received, about to be stored.
struct InboxEntry: Sendable {
    var updateID: Int64
    /// The update's kind (message, callback_query, ...).
    var kind: String
    var conversation: ConversationKey?
    /// The body exactly as Telegram sent it.
    var payload: [UInt8]
    /// Unix milliseconds.
    var receivedAt: Int64
}

enum InboxState: String, Sendable, CaseIterable {
    case pending, handled, failed
}

/// A stored update and how far its handling got.
struct InboxRecord: Sendable {
    var updateID: Int64
    var kind: String
    var conversation: ConversationKey?
    var payload: [UInt8]
    /// Unix milliseconds.
    var receivedAt: Int64
    var state: InboxState
    /// Delivery attempts begun so far.
    var attempts: Int
    /// The delivery about to be made is counted in `attempts` already: the webhook stores an
    /// update with its first attempt (see `InboxStore.store`), saving the dispatcher a write.
    var attemptRecorded = false

    init(
        updateID: Int64, kind: String, conversation: ConversationKey?, payload: [UInt8], receivedAt: Int64,
        state: InboxState, attempts: Int
    ) {
        self.updateID = updateID
        self.kind = kind
        self.conversation = conversation
        self.payload = payload
        self.receivedAt = receivedAt
        self.state = state
        self.attempts = attempts
    }

    /// The record of an entry that was just stored (by `InboxStore.store` if `attemptRecorded`).
    init(pending entry: InboxEntry, attemptRecorded: Bool = false) {
        self.init(
            updateID: entry.updateID, kind: entry.kind, conversation: entry.conversation, payload: entry.payload,
            receivedAt: entry.receivedAt, state: .pending, attempts: attemptRecorded ? 1 : 0)
        self.attemptRecorded = attemptRecorded
    }
}
