import Dispatch
import Logging
import Synchronization

/// The one owner of writes. Writes run on a dedicated serial queue (SQLite blocks,
/// and Swift's cooperative pool has only a thread per core to lose) and are committed by
/// group commit: whatever queued up while the previous transaction was committing runs
/// as one transaction, each job in its own savepoint.
///
/// One exception, for the few small writes a prompt waits for (`inlineWhenIdle`): when the
/// writer is idle, such a write commits on the caller's own thread instead of waking the
/// queue's, which under load costs milliseconds. Whoever holds the writer (the
/// `drainScheduled` claim) is the only one touching the connection, on whatever thread.
///
/// Every transaction commits with `synchronous = NORMAL`, into the WAL: durable against a
/// crash of the process as soon as COMMIT returns. A `.synced` write is then handed to
/// `WALSyncer`, which answers it after a flush of the log, so the flush never holds up
/// the writes queued behind it.
final class DatabaseWriter: Sendable {
    /// What a committed write survives by the time `write` returns.
    enum Durability: Sendable {
        /// A power cut: `write` returns after the WAL was flushed to disk past this commit.
        /// What an update acknowledged to Telegram needs, and the default.
        case synced
        /// A crash of the process, not of the machine: the commit is in the WAL, which the
        /// kernel writes back later (about 0.02 ms here instead of a flush's 0.5, and 4 at
        /// p99). A power cut can lose only the newest such commits, never one before a
        /// synced write returned: the WAL is ordered, and that flush took them along.
        /// For what happens after an update is stored: losing it means the update is
        /// delivered again, which the pipeline already handles.
        case crashSafe
    }

    struct Statistics: Sendable, Equatable {
        /// Transactions committed.
        var transactions = 0
        /// Jobs whose work was committed.
        var jobs = 0
    }

    /// A queued write. `perform` runs it and, on success, returns how to hand its value
    /// over; that happens only once the transaction committed (and, if synced, was flushed).
    private struct Job: Sendable {
        /// A readiness probe: needs the write lock, has nothing to commit.
        let isProbe: Bool
        let durability: Durability
        let perform: @Sendable (SQLiteConnection) throws -> Delivery
        let fail: @Sendable (any Error) -> Void
    }

    private struct Delivery: Sendable {
        /// Told at commit, before the flush.
        var committed: (@Sendable () -> Void)?
        /// Hands the value to the waiting caller.
        var deliver: @Sendable () -> Void
    }

    private struct State {
        var queued: [Job] = []
        var drainScheduled = false
        var closed = false
        var statistics = Statistics()
    }

    private let queue: DispatchQueue
    // Touched only by the holder of the `drainScheduled` claim (on `queue`, or inline on a
    // caller's thread); that exclusion is what makes sharing `self` safe.
    private nonisolated(unsafe) let connection: SQLiteConnection
    private let state = Mutex(State())
    private let maxBatchSize: Int
    private let logger: Logger
    let syncer: WALSyncer

    /// Takes ownership of `connection` (set up by `ConnectionSetup.configureWriter`): nobody
    /// else may use it afterwards. `syncer` defaults to one flushing the connection's WAL.
    init(connection: SQLiteConnection, syncer: WALSyncer? = nil, maxBatchSize: Int = 256, logger: Logger) {
        precondition(maxBatchSize > 0)
        precondition(connection.walPath != nil || syncer != nil, "a writer needs a WAL to flush")
        self.connection = connection
        self.syncer = syncer ?? WALSyncer(walPath: connection.walPath ?? "", logger: logger)
        self.maxBatchSize = maxBatchSize
        self.logger = logger
        self.queue = DispatchQueue(label: "database.writer", qos: .userInitiated)
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// Jobs waiting for the next batch (tests use it to know a batch has formed).
    var queuedJobs: Int { state.withLock { $0.queued.count } }

    /// Runs `work` inside a transaction and returns its value once that transaction has
    /// committed and is as durable as `durability` says. If `work` throws, its changes are
    /// rolled back and nothing else is affected. Not cancellable once submitted: the write
    /// may commit whether or not anyone waits.
    ///
    /// `committed` is called with the value as soon as the transaction has committed, before
    /// a `.synced` write is flushed: for work that may start once the write is safe from a
    /// crash of the process. It runs where the transaction ran (the writer's queue, or the
    /// caller's thread for an inline write) while the writer is held, so it must be short (the
    /// webhook's runs an update's handling up to its first wait, a fraction of a ms). If the
    /// flush then fails, `write` throws although `committed` was called.
    ///
    /// `inlineWhenIdle`: if no write is queued or running, this one runs on the caller's
    /// thread before `write` suspends (a small write only: it holds that thread meanwhile).
    func write<T: Sendable>(
        _ durability: Durability = .synced, inlineWhenIdle: Bool = false, committed: (@Sendable (T) -> Void)? = nil,
        _ work: @escaping @Sendable (SQLiteConnection) throws -> T
    ) async throws -> T {
        // After a failed flush nothing more can be made durable: refuse before committing.
        if durability == .synced, let failure = syncer.failure { throw failure }
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(durability, inlineWhenIdle: inlineWhenIdle, committed: committed, work) { continuation.resume(with: $0) }
        }
    }

    /// The same write, queued before this returns and awaited later (`value`): for a caller
    /// with something to do while it commits, that must not wait for the writer to wake up.
    func submit<T: Sendable>(
        _ durability: Durability = .synced, _ work: @escaping @Sendable (SQLiteConnection) throws -> T
    ) -> PendingWrite<T> {
        let pending = PendingWrite<T>()
        if durability == .synced, let failure = syncer.failure {
            pending.complete(.failure(failure))
        } else {
            enqueue(durability, inlineWhenIdle: false, committed: nil, work) { pending.complete($0) }
        }
        return pending
    }

    private func enqueue<T: Sendable>(
        _ durability: Durability, inlineWhenIdle: Bool, committed: (@Sendable (T) -> Void)?,
        _ work: @escaping @Sendable (SQLiteConnection) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        submit(Job(
            isProbe: false, durability: durability,
            perform: { connection in
                let value = try work(connection)
                var announce: (@Sendable () -> Void)?
                if let committed { announce = { committed(value) } }
                return Delivery(committed: announce, deliver: { completion(.success(value)) })
            },
            fail: { completion(.failure($0)) }), inline: inlineWhenIdle)
    }

    /// Throws unless the write lock can be taken within the busy timeout (BEGIN IMMEDIATE,
    /// then ROLLBACK). Queued like a write, so it also fails if the writer is wedged; and
    /// it fails once a flush of the log has failed, since nothing can be acknowledged then.
    func checkWritable() async throws {
        if let failure = syncer.failure { throw failure }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(Job(
                isProbe: true, durability: .crashSafe,
                perform: { _ in Delivery(deliver: { continuation.resume() }) },
                fail: { continuation.resume(throwing: $0) }))
        }
    }

    /// Runs the writes already submitted and waits for their flush, then closes the
    /// connection. Later writes throw `DatabaseError.closed`.
    func close() async {
        state.withLock { $0.closed = true }
        // The writer is taken from whoever holds it (the queue, or a caller's thread) once they
        // are done; nobody can claim it after that, since new writes are refused.
        while !state.withLock({ state in
            guard !state.drainScheduled else { return false }
            state.drainScheduled = true
            return true
        }) {
            try? await Task.sleep(for: .milliseconds(1))
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.drain()
                continuation.resume()
            }
        }
        await syncer.waitUntilIdle()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
    }

    private func submit(_ job: Job, inline: Bool = false) {
        enum Placement { case refused, queued, runHere }
        let placement = state.withLock { state -> Placement in
            guard !state.closed else { return .refused }
            state.queued.append(job)
            guard !state.drainScheduled else { return .queued }
            state.drainScheduled = true
            if inline { return .runHere }
            queue.async { self.drain() }
            return .queued
        }
        switch placement {
        case .refused: job.fail(DatabaseError.closed)
        case .queued: break
        case .runHere: drainOnce()
        }
    }

    /// On the caller's thread, holding the claim: the batch queued now (the caller's job, and
    /// any that slipped in), then the claim goes to the queue if more came meanwhile. One
    /// batch only, so a caller is never kept writing for others.
    private func drainOnce() {
        run(takeBatch(releasingWhenEmpty: false))
        state.withLock { state in
            if state.queued.isEmpty {
                state.drainScheduled = false
            } else {
                queue.async { self.drain() }
            }
        }
    }

    /// The next batch; none when nothing is queued, and then, if asked, the claim is let go
    /// in the same lock, so a write queued a moment later schedules a drain of its own.
    private func takeBatch(releasingWhenEmpty release: Bool) -> [Job] {
        state.withLock { state in
            if state.queued.isEmpty && release { state.drainScheduled = false }
            let count = min(maxBatchSize, state.queued.count)
            let batch = Array(state.queued.prefix(count))
            state.queued.removeFirst(count)
            return batch
        }
    }

    // MARK: On `queue`

    private func drain() {
        while true {
            let batch = takeBatch(releasingWhenEmpty: true)
            if batch.isEmpty { return }
            run(batch)
        }
    }

    private func run(_ batch: [Job]) {
        var remaining = batch[...]
        while !remaining.isEmpty { remaining = runTransaction(remaining) }
    }

    /// Runs `jobs` in one transaction. Returns the jobs not yet run if SQLite aborted the
    /// transaction halfway; they get a fresh one.
    private func runTransaction(_ jobs: ArraySlice<Job>) -> ArraySlice<Job> {
        if connection.isAutocommit == false {
            // A failed ROLLBACK earlier left a transaction open; BEGIN would fail forever.
            try? connection.run("ROLLBACK")
        }
        do {
            try connection.run("BEGIN IMMEDIATE")
        } catch {
            logger.error("cannot start a write transaction", metadata: ["error": "\(error)"])
            for job in jobs { job.fail(error) }
            return []
        }

        var succeeded: [(job: Job, delivery: Delivery)] = []
        var index = jobs.startIndex
        while index < jobs.endIndex {
            let job = jobs[index]
            index += 1
            if job.isProbe {
                // BEGIN IMMEDIATE succeeding was the check.
                if let delivery = try? job.perform(connection) { succeeded.append((job, delivery)) }
                continue
            }
            do {
                try connection.run("SAVEPOINT job")
                let delivery = try job.perform(connection)
                connection.resetStatements()
                try connection.run("RELEASE job")
                succeeded.append((job, delivery))
            } catch {
                connection.resetStatements()
                if connection.isAutocommit {
                    // SQLite rolled back the whole transaction (I/O error, disk full, ...):
                    // the jobs before this one are lost too.
                    job.fail(error)
                    abort(succeeded.map(\.job), cause: error)
                    return jobs[index...]
                }
                do {
                    try connection.run("ROLLBACK TO job")
                    try connection.run("RELEASE job")
                } catch let rollbackError {
                    job.fail(error)
                    abort(succeeded.map(\.job), cause: rollbackError)
                    return jobs[index...]
                }
                job.fail(error)
            }
        }

        let writes = succeeded.count(where: { !$0.job.isProbe })
        do {
            // Probes and failed jobs leave nothing to commit.
            try connection.run(writes == 0 ? "ROLLBACK" : "COMMIT")
        } catch {
            logger.error("commit failed", metadata: ["error": "\(error)", "jobs": "\(writes)"])
            abort(succeeded.map(\.job), cause: error)
            return []
        }
        if writes > 0 {
            state.withLock {
                $0.statistics.transactions += 1
                $0.statistics.jobs += writes
            }
        }
        for entry in succeeded { entry.delivery.committed?() }
        let synced = succeeded.filter { $0.job.durability == .synced && !$0.job.isProbe }
        for entry in succeeded where entry.job.durability == .crashSafe || entry.job.isProbe {
            entry.delivery.deliver()
        }
        if !synced.isEmpty {
            // One request for the whole batch: the flush that answers it covers every job.
            syncer.afterNextFlush { result in
                switch result {
                case .success: for entry in synced { entry.delivery.deliver() }
                case .failure(let error): for entry in synced { entry.job.fail(error) }
                }
            }
        }
        return []
    }

    /// Rolls back what is left of the transaction and fails the jobs whose work it held.
    private func abort(_ jobs: [Job], cause: any Error) {
        if !connection.isAutocommit { try? connection.run("ROLLBACK") }
        for job in jobs { job.fail(cause) }
    }
}
