import Synchronization

/// A write that is queued and will be committed (or fail): `DatabaseWriter.submit`'s answer,
/// awaited once, when its caller has done what it could do meanwhile.
final class PendingWrite<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, any Error>?)
        case done(Result<T, any Error>)
    }

    private let state = Mutex(State.waiting(nil))

    /// The write's value once it is committed (and flushed, if it was to be); its error otherwise.
    /// One caller only.
    var value: T {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let result = state.withLock { state -> Result<T, any Error>? in
                    switch state {
                    case .done(let result):
                        return result
                    case .waiting(let earlier):
                        precondition(earlier == nil, "a pending write is awaited once")
                        state = .waiting(continuation)
                        return nil
                    }
                }
                if let result { continuation.resume(with: result) }
            }
        }
    }

    func complete(_ result: Result<T, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard case .waiting(let waiter) = state else { return nil }
            state = .done(result)
            return waiter
        }
        waiter?.resume(with: result)
    }
}
