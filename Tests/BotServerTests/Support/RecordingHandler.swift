import Synchronization

@testable import BotServer

/// A conversation handler that records what it was given and can be made to hang
/// for chosen conversations, to prove that others do not wait for them.
final class RecordingHandler: ConversationHandler {
    struct Delivery: Equatable, Sendable {
        let updateID: Int64
        let conversation: ConversationKey?
        let attempt: Int
    }

    private let state = Mutex<(deliveries: [Delivery], stuck: Set<Int64>, waiters: [CheckedContinuation<Void, Never>])>(
        ([], [], []))

    /// Updates for these chat ids block until `release()`.
    init(stuckChats: Set<Int64> = []) {
        state.withLock { $0.stuck = stuckChats }
    }

    var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    func handle(_ update: InboxRecord, attempt: Int) async throws {
        let shouldWait = state.withLock { state -> Bool in
            state.deliveries.append(Delivery(updateID: update.updateID, conversation: update.conversation, attempt: attempt))
            return update.conversation.map { state.stuck.contains($0.chatID) } ?? false
        }
        if shouldWait {
            await withCheckedContinuation { continuation in
                let released = state.withLock { state -> Bool in
                    if state.stuck.isEmpty { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if released { continuation.resume() }
            }
        }
    }

    func release() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stuck = []
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Polls until `condition` holds or about 10 s pass (a liveness bound, not a timing claim).
    func waitUntil(_ condition: ([Delivery]) -> Bool) async throws -> Bool {
        for _ in 0..<1000 {
            if condition(deliveries) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition(deliveries)
    }
}
