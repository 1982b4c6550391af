import Dispatch
import Synchronization

/// A read-only connection on its own serial queue. With WAL, reads see the last commit
/// and never wait for the writer, so they do not add to a webhook's latency.
///
/// Like the writer, a small read a prompt waits for (`inlineWhenIdle`: a conversation's
/// settings on its first prompt) runs on the caller's thread when the reader is idle,
/// rather than waking the queue's. Whoever holds the `busy` claim is the only one touching
/// the connection.
final class DatabaseReader: Sendable {
    private struct State {
        var busy = false
        var queued: [@Sendable () -> Void] = []
        var closed = false
    }

    private enum Placement { case refused, queued, runHere }

    private let queue: DispatchQueue
    // Touched only by the holder of the `busy` claim; that exclusion makes sharing `self` safe.
    private nonisolated(unsafe) let connection: SQLiteConnection
    private let state = Mutex(State())

    /// Takes ownership of `connection`: nobody else may use it afterwards.
    init(connection: SQLiteConnection) {
        self.connection = connection
        self.queue = DispatchQueue(label: "database.reader", qos: .userInitiated)
    }

    func read<T: Sendable>(
        inlineWhenIdle: Bool = false, _ work: @escaping @Sendable (SQLiteConnection) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            // Runs only while the claim is held, so never after close(), which takes it last.
            let job: @Sendable () -> Void = {
                let result = Result { try work(self.connection) }
                // A statement left mid-rows would pin this connection to an old snapshot.
                self.connection.resetStatements()
                continuation.resume(with: result)
            }
            let placement = state.withLock { state -> Placement in
                guard !state.closed else { return .refused }
                if state.busy {
                    state.queued.append(job)
                    return .queued
                }
                state.busy = true
                if inlineWhenIdle { return .runHere }
                state.queued.append(job)
                queue.async { self.drain() }
                return .queued
            }
            switch placement {
            case .refused:
                continuation.resume(throwing: DatabaseError.closed)
            case .queued:
                break
            case .runHere:
                job()
                // Reads that came meanwhile go to the queue.
                state.withLock { state in
                    if state.queued.isEmpty { state.busy = false } else { queue.async { self.drain() } }
                }
            }
        }
    }

    /// On `queue`, holding the claim: every read queued, then the claim is let go.
    private func drain() {
        while let job = state.withLock({ state -> (@Sendable () -> Void)? in
            guard !state.queued.isEmpty else {
                state.busy = false
                return nil
            }
            return state.queued.removeFirst()
        }) {
            job()
        }
    }

    func close() async {
        state.withLock { $0.closed = true }
        // Reads already queued still run; the close waits for whoever holds the connection.
        while !state.withLock({ state in
            guard !state.busy else { return false }
            state.busy = true
            return true
        }) {
            try? await Task.sleep(for: .milliseconds(1))
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
        // Let go, so a second close does not wait for itself; reads are refused from now on.
        state.withLock { $0.busy = false }
    }
}
