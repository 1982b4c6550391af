import Dispatch
import Synchronization

/// A read-only connection on its own serial queue. With WAL, reads see the last commit
/// and never wait for the writer, so they do not add to a webhook's latency.
final class DatabaseReader: Sendable {
    private let queue: DispatchQueue
    // Touched only on `queue`; that confinement is what makes sharing `self` safe.
    private nonisolated(unsafe) let connection: SQLiteConnection
    private let closed = Mutex(false)

    /// Takes ownership of `connection`: nobody else may use it afterwards.
    init(connection: SQLiteConnection) {
        self.connection = connection
        self.queue = DispatchQueue(label: "database.reader", qos: .userInitiated)
    }

    func read<T: Sendable>(_ work: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        guard !closed.withLock({ $0 }) else { throw DatabaseError.closed }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                // close() may have run between the check above and this block.
                guard self.connection.isOpen else {
                    continuation.resume(throwing: DatabaseError.closed)
                    return
                }
                let result = Result { try work(self.connection) }
                // A statement left mid-rows would pin this connection to an old snapshot.
                self.connection.resetStatements()
                continuation.resume(with: result)
            }
        }
    }

    func close() async {
        closed.withLock { $0 = true }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
    }
}
