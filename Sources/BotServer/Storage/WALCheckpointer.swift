import Dispatch
import Logging
import Synchronization

/// Checkpoints the WAL (copies its pages into the database file) from a connection and a
/// queue of its own, so that the writer never does.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: the
/// writer then copies the log and flushes both files before the next write can start,
/// several milliseconds every few dozen prompts, and so the tail of every write latency.
/// A passive checkpoint from another connection runs beside the writer instead: WAL mode
/// lets the log be appended to while its older frames are copied.
final class WALCheckpointer: Sendable {
    struct Statistics: Sendable, Equatable {
        var checkpoints = 0
        var failures = 0
    }

    /// SQLite's own default threshold (pages of 4 KiB).
    static let defaultThresholdPages = 1000

    private struct State {
        var scheduled = false
        var closed = false
        var statistics = Statistics()
    }

    private let queue = DispatchQueue(label: "database.checkpoint", qos: .utility)
    // Touched only on `queue`.
    private nonisolated(unsafe) let connection: SQLiteConnection
    private let thresholdPages: Int
    private let state = Mutex(State())
    private let logger: Logger

    /// Takes ownership of `connection`, a read-write connection to the writer's database.
    init(connection: SQLiteConnection, thresholdPages: Int = defaultThresholdPages, logger: Logger) {
        self.connection = connection
        self.thresholdPages = max(1, thresholdPages)
        self.logger = logger
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// Told after each commit (from the writer's WAL hook): schedules a checkpoint when the
    /// log has grown past the threshold and none is on its way. Returns at once.
    func logGrew(toPages pages: Int) {
        guard pages >= thresholdPages else { return }
        let schedule = state.withLock { state in
            guard !state.scheduled, !state.closed else { return false }
            state.scheduled = true
            return true
        }
        if schedule { queue.async { self.checkpoint() } }
    }

    /// Waits for a checkpoint in progress, then closes the connection.
    func close() async {
        state.withLock { $0.closed = true }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
    }

    // MARK: On `queue`

    private func checkpoint() {
        state.withLock { $0.scheduled = false }
        do {
            let (log, copied) = try connection.checkpointPassively()
            state.withLock { $0.statistics.checkpoints += 1 }
            logger.debug("checkpoint", metadata: ["log_frames": "\(log)", "copied_frames": "\(copied)"])
        } catch {
            // An I/O error, or another process checkpointing (the sqlite3 shell): the log keeps
            // growing until the next commit past the threshold asks again.
            state.withLock { $0.statistics.failures += 1 }
            logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
        }
    }
}
