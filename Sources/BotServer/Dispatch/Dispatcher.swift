import Logging
import Synchronization

/// What the chat layer implements: handle one stored update of one conversation.
/// Updates of a conversation arrive one at a time, in order; different conversations
/// are handled concurrently. `attempt` is 1 normally and higher when the update is
/// delivered again after a crash cut off an earlier attempt.
protocol ConversationHandler: Sendable {
    func handle(_ update: InboxRecord, attempt: Int) async throws
}

/// Takes stored updates and hands each to its conversation's lane. A lane is a
/// sequential worker that exists only while its conversation has work, so one
/// conversation never waits for another and idle conversations cost nothing.
///
/// Delivery is at least once: the attempt is recorded before the handler runs and
/// the update is marked handled after it returns. An update whose attempts reach
/// `maxAttempts` (a handler that keeps crashing the process) is set aside as failed
/// instead of blocking its conversation forever.
final class Dispatcher: Sendable {
    private struct Lane {
        var queue: [InboxRecord] = []
        var task: Task<Void, Never>?
    }

    private struct State {
        var lanes: [ConversationKey?: Lane] = [:]
        /// Update ids queued or being handled, so the same update is never in two places.
        var known: Set<Int64> = []
        var draining = false
    }

    private let store: InboxStore
    private let handler: any ConversationHandler
    private let logger: Logger
    private let maxAttempts: Int
    private let state = Mutex(State())

    init(store: InboxStore, handler: any ConversationHandler, maxAttempts: Int = 5, logger: Logger) {
        self.store = store
        self.handler = handler
        self.maxAttempts = maxAttempts
        self.logger = logger
    }

    /// Queues every update stored but not handled (after a restart: the ones a crash
    /// or shutdown left behind). Call before the webhook starts accepting, so older
    /// updates keep their place ahead of new ones.
    func resumePending() async throws {
        let pending = try await store.pending()
        if !pending.isEmpty {
            logger.info("resuming stored updates", metadata: ["count": "\(pending.count)"])
        }
        for record in pending { submit(record) }
    }

    /// Hands a stored update to its conversation. Returns at once.
    func submit(_ record: InboxRecord) {
        state.withLock { state in
            guard !state.draining, state.known.insert(record.updateID).inserted else { return }
            let key = record.conversation
            state.lanes[key, default: Lane()].queue.append(record)
            if state.lanes[key]?.task == nil {
                state.lanes[key]?.task = Task { await self.runLane(key) }
            }
        }
    }

    /// Conversations with work queued or in progress (for /readyz-style introspection and tests).
    var activeConversations: Int { state.withLock { $0.lanes.count } }

    /// Stops taking new updates and waits up to `gracePeriod` for lanes to finish the update
    /// each is handling. Whatever is still queued stays pending in the database for the next start.
    func drain(gracePeriod: Duration) async {
        state.withLock { state in
            state.draining = true
            for key in state.lanes.keys {
                state.lanes[key]?.queue.removeAll()
            }
        }
        // Polling, not awaiting the lanes' tasks: a handler that ignores cancellation
        // must not be able to hold shutdown past the grace period.
        let deadline = ContinuousClock.now + gracePeriod
        while activeConversations > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let unfinished = state.withLock { Array($0.lanes.values.compactMap(\.task)) }
        if !unfinished.isEmpty {
            logger.warning(
                "shutdown grace period over with conversations still busy; their updates stay pending",
                metadata: ["conversations": "\(unfinished.count)"])
            for task in unfinished { task.cancel() }
        }
    }

    private func runLane(_ key: ConversationKey?) async {
        while let record = nextRecord(for: key) {
            await deliver(record)
            _ = state.withLock { $0.known.remove(record.updateID) }
        }
    }

    /// The lane's next update, or nil after removing the lane when its queue is empty.
    private func nextRecord(for key: ConversationKey?) -> InboxRecord? {
        state.withLock { state in
            guard var lane = state.lanes[key], !lane.queue.isEmpty else {
                state.lanes.removeValue(forKey: key)
                return nil
            }
            let record = lane.queue.removeFirst()
            state.lanes[key] = lane
            return record
        }
    }

    private func deliver(_ record: InboxRecord) async {
        var logger = self.logger
        logger[metadataKey: "update_id"] = "\(record.updateID)"
        logger[metadataKey: "conversation"] = "\(record.conversation.map(\.description) ?? "none")"
        let attempt: Int
        do {
            attempt = try await store.beginAttempt(updateID: record.updateID)
        } catch {
            // The update stays pending and is retried after the next start.
            logger.error("could not record delivery attempt", metadata: ["error": "\(error)"])
            return
        }
        if attempt > maxAttempts {
            logger.error("update set aside after repeated failed deliveries", metadata: ["attempts": "\(attempt - 1)"])
            try? await store.markFailed(
                updateID: record.updateID, error: "gave up after \(attempt - 1) attempts", at: UnixTime.nowMillis())
            return
        }
        do {
            try await handler.handle(record, attempt: attempt)
        } catch is CancellationError {
            logger.notice("delivery cut off by shutdown; it will be retried after restart")
            return
        } catch {
            logger.error("handler failed; update set aside", metadata: ["error": "\(error)"])
            try? await store.markFailed(updateID: record.updateID, error: "\(error)", at: UnixTime.nowMillis())
            return
        }
        do {
            try await store.markHandled(updateID: record.updateID, at: UnixTime.nowMillis())
        } catch {
            // Still pending in the database: it is delivered again (as a later attempt) after restart.
            logger.error("could not mark update handled", metadata: ["error": "\(error)"])
        }
    }
}
