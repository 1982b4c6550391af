import Logging
import Synchronization

/// What the chat layer implements: handle one stored update of one conversation.
/// Updates of a conversation arrive one at a time, in order; different conversations
/// are handled concurrently. `attempt` is 1 normally and higher when the update is
/// delivered again after a crash cut off an earlier attempt.
protocol ConversationHandler: Sendable {
    func handle(_ update: InboxRecord, attempt: Int) async throws
    /// Told as soon as an update arrives (on the webhook, while its row is being committed;
    /// when polling, once committed), before it waits in its lane: for what the user should
    /// see at once (typing…). May be told twice of one update (a redelivery). Must return
    /// immediately; nothing durable.
    func received(_ update: InboxRecord)
}

extension ConversationHandler {
    func received(_ update: InboxRecord) {}
}

/// Takes stored updates and hands each to its conversation's lane. A lane is a
/// sequential worker that exists only while its conversation has work, so one
/// conversation never waits for another and idle conversations cost nothing.
///
/// The inbox table is the queue; memory only holds a window of it. A lane keeps at most
/// `maxQueuedPerLane` records, and all lanes together at most `maxQueuedTotal`. Past
/// either bound the lane is marked overflowed and the record is left to the database
/// (it is already committed); an overflowed lane that runs dry reads its conversation's
/// next pending updates from the inbox, in update_id order. So a burst for one chat, or a
/// backlog after a restart, costs disk, never unbounded memory.
///
/// Delivery is at least once: the attempt is recorded before the handler runs and
/// the update is marked handled after it returns. An update whose attempts reach
/// `maxAttempts` (a handler that keeps crashing the process) is set aside as failed
/// instead of blocking its conversation forever.
final class Dispatcher: Sendable {
    private struct Lane {
        var queue: [InboxRecord] = []
        /// A worker is handling this lane's updates; `id` tells this lane from a later one of
        /// the same conversation, once this one has ended.
        var running = false
        var id = 0
        var task: Task<Void, Never>?
        /// Some pending updates of this conversation are in the database only.
        var overflowed = false
        /// Set while the lane reads from the database; a record dropped meanwhile may or may
        /// not be in what the read saw, so the lane stays overflowed and reads again.
        var reloading = false
        var droppedWhileReloading = false
    }

    private struct State {
        var lanes: [ConversationKey?: Lane] = [:]
        /// Update ids queued or being handled, so the same update is never in two places.
        var known: Set<Int64> = []
        var queuedTotal = 0
        var draining = false
        var nextLaneID = 0
    }

    private struct LaneStart {
        let key: ConversationKey?
        let id: Int
    }

    private let store: InboxStore
    private let handler: any ConversationHandler
    private let logger: Logger
    private let maxAttempts: Int
    private let maxQueuedPerLane: Int
    private let maxQueuedTotal: Int
    private let state = Mutex(State())

    init(
        store: InboxStore, handler: any ConversationHandler, maxAttempts: Int = 5, maxQueuedPerLane: Int = 32,
        maxQueuedTotal: Int = 1024, logger: Logger
    ) {
        self.store = store
        self.handler = handler
        self.maxAttempts = maxAttempts
        self.maxQueuedPerLane = max(1, maxQueuedPerLane)
        self.maxQueuedTotal = max(1, maxQueuedTotal)
        self.logger = logger
    }

    /// Starts a lane for every conversation with updates stored but not handled (after a
    /// restart: the ones a crash or shutdown left behind). Each lane reads its updates from
    /// the inbox, so older updates keep their place ahead of new ones. Call before the
    /// webhook starts accepting.
    func resumePending() async throws {
        let conversations = try await store.conversationsWithPendingUpdates()
        if !conversations.isEmpty {
            logger.info("resuming stored updates", metadata: ["conversations": "\(conversations.count)"])
        }
        let starts = state.withLock { state in
            conversations.compactMap { key -> LaneStart? in
                state.lanes[key, default: Lane()].overflowed = true
                return claimIfIdle(key, &state)
            }
        }
        for lane in starts { start(lane) }
    }

    /// An update about to be stored: the user's acknowledgement need not wait for the disk.
    /// If the commit fails, Telegram is answered 503 and delivers the update again, so
    /// nothing is lost by having said "typing…" early.
    func arriving(_ record: InboxRecord) {
        let accepted = state.withLock { state in !state.draining && !state.known.contains(record.updateID) }
        if accepted { handler.received(record) }
    }

    /// Hands a stored (committed) update to its conversation. Returns at once.
    func submit(_ record: InboxRecord) {
        arriving(record)
        let start = state.withLock { state -> LaneStart? in
            guard !state.draining, !state.known.contains(record.updateID) else { return nil }
            let key = record.conversation
            var lane = state.lanes[key, default: Lane()]
            // Concurrent webhook requests can arrive out of order: keep the queue sorted by update_id.
            let position = lane.queue.firstIndex { $0.updateID > record.updateID } ?? lane.queue.count
            let beforeSomeQueued = position < lane.queue.count
            let room = lane.queue.count < maxQueuedPerLane && state.queuedTotal < maxQueuedTotal
            // Invariant: every update of an overflowed lane that is only in the database has a
            // higher id than every queued one, so reading the inbox later keeps update_id order.
            if room && (!lane.overflowed || beforeSomeQueued) {
                lane.queue.insert(record, at: position)
                state.known.insert(record.updateID)
                state.queuedTotal += 1
            } else if beforeSomeQueued {
                // Full: keep the lowest ids in memory; the highest goes back to the database only.
                lane.queue.insert(record, at: position)
                state.known.insert(record.updateID)
                state.known.remove(lane.queue.removeLast().updateID)
                lane.overflowed = true
            } else {
                lane.overflowed = true
                if lane.reloading { lane.droppedWhileReloading = true }
            }
            state.lanes[key] = lane
            return claimIfIdle(key, &state)
        }
        if let start { self.start(start) }
    }

    /// Marks an idle lane running; the caller starts it once the lock is released.
    private func claimIfIdle(_ key: ConversationKey?, _ state: inout State) -> LaneStart? {
        guard var lane = state.lanes[key], !lane.running else { return nil }
        state.nextLaneID += 1
        lane.running = true
        lane.id = state.nextLaneID
        state.lanes[key] = lane
        return LaneStart(key: key, id: lane.id)
    }

    /// The lane runs at once, on the caller's thread, until it first waits: on the webhook,
    /// that is the thread that committed the update, and a prompt is handled up to its write
    /// into Claude's stdin (a fraction of a millisecond) without waiting for another thread
    /// to wake up. Everything after its first wait runs on the cooperative pool as usual.
    private func start(_ lane: LaneStart) {
        let task = Task.immediate { await self.runLane(lane.key) }
        state.withLock { state in
            // Unless it has already finished (and perhaps been followed by another lane).
            if state.lanes[lane.key]?.id == lane.id { state.lanes[lane.key]?.task = task }
        }
    }

    /// Conversations with work queued or in progress (for /readyz-style introspection and tests).
    var activeConversations: Int { state.withLock { $0.lanes.count } }

    /// Records held in memory across all lanes (for tests of the bounds).
    var queuedInMemory: Int { state.withLock { $0.queuedTotal } }

    /// Stops taking new updates and waits up to `gracePeriod` for lanes to finish the update
    /// each is handling. Whatever is still queued stays pending in the database for the next start.
    func drain(gracePeriod: Duration) async {
        state.withLock { state in
            state.draining = true
            for key in state.lanes.keys {
                for record in state.lanes[key]?.queue ?? [] { state.known.remove(record.updateID) }
                state.queuedTotal -= state.lanes[key]?.queue.count ?? 0
                state.lanes[key]?.queue.removeAll()
                state.lanes[key]?.overflowed = false
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
        while true {
            switch nextStep(for: key) {
            case .deliver(let record):
                await deliver(record)
                _ = state.withLock { $0.known.remove(record.updateID) }
            case .reload:
                await reload(key)
            case .finished:
                return
            }
        }
    }

    private enum LaneStep {
        case deliver(InboxRecord)
        case reload
        case finished
    }

    /// The lane's next step; removes the lane when it has nothing left, in memory or in the database.
    private func nextStep(for key: ConversationKey?) -> LaneStep {
        state.withLock { state in
            guard var lane = state.lanes[key], !state.draining else {
                state.lanes.removeValue(forKey: key)
                return .finished
            }
            if !lane.queue.isEmpty {
                let record = lane.queue.removeFirst()
                state.queuedTotal -= 1
                state.lanes[key] = lane
                return .deliver(record)
            }
            guard lane.overflowed else {
                state.lanes.removeValue(forKey: key)
                return .finished
            }
            lane.reloading = true
            lane.droppedWhileReloading = false
            state.lanes[key] = lane
            return .reload
        }
    }

    /// Fills an overflowed lane's empty queue from the inbox.
    private func reload(_ key: ConversationKey?) async {
        let page = maxQueuedPerLane
        let records: [InboxRecord]
        do {
            records = try await store.pending(of: key, limit: page)
        } catch {
            // The updates stay pending; try again shortly rather than spin or give up.
            logger.error("could not read pending updates", metadata: ["error": "\(error)"])
            state.withLock { $0.lanes[key]?.reloading = false }
            try? await Task.sleep(for: .seconds(1))
            return
        }
        state.withLock { state in
            guard var lane = state.lanes[key] else { return }
            for record in records where state.known.insert(record.updateID).inserted {
                lane.queue.append(record)
                state.queuedTotal += 1
            }
            lane.overflowed = records.count == page || lane.droppedWhileReloading
            lane.reloading = false
            state.lanes[key] = lane
        }
    }

    private func deliver(_ record: InboxRecord) async {
        var logger = self.logger
        logger[metadataKey: "update_id"] = "\(record.updateID)"
        logger[metadataKey: "conversation"] = "\(record.conversation.map(\.description) ?? "none")"
        let attempt: Int
        if record.attemptRecorded {
            // Stored with this attempt counted, a moment ago; the known set keeps it from
            // being delivered twice meanwhile (see InboxStore.store).
            attempt = record.attempts
        } else {
            do {
                guard let begun = try await store.beginAttempt(updateID: record.updateID) else {
                    // Read from the inbox by its lane and submitted by the webhook too, and already handled.
                    logger.debug("update already handled; not delivered again")
                    return
                }
                attempt = begun
            } catch {
                // The update stays pending and is retried after the next start.
                logger.error("could not record delivery attempt", metadata: ["error": "\(error)"])
                return
            }
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
        // Logged before it is marked: a crash in between shows as a delivery in this log and a
        // redelivery (attempt 2) in the next one.
        logger.info("update delivered", metadata: ["kind": "\(record.kind)", "attempt": "\(attempt)"])
        do {
            try await store.markHandled(updateID: record.updateID, at: UnixTime.nowMillis())
        } catch {
            // Still pending in the database: it is delivered again (as a later attempt) after restart.
            logger.error("could not mark update handled", metadata: ["error": "\(error)"])
        }
    }
}
