import Synchronization

/// Keep-alive connections per origin, at most `maxPerOrigin` open at once. A request
/// takes the most recently used idle connection (the one least likely to have been closed
/// by the server), or a permit to open a new one, or waits for one of the two.
final class ConnectionPool: Sendable {
    enum Lease {
        case reuse(HTTPClientConnection)
        /// The caller may open a connection; it must `release` it or call `openFailed`.
        case open
    }

    private struct OriginState {
        var idle: [HTTPClientConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct State {
        var origins: [HTTPClientURL.Origin: OriginState] = [:]
        var isShutDown = false
    }

    private let state = Mutex(State())
    private let maxPerOrigin: Int

    init(maxPerOrigin: Int) {
        self.maxPerOrigin = max(1, maxPerOrigin)
    }

    func acquire(_ origin: HTTPClientURL.Origin) async throws(HTTPClientError) -> Lease {
        while true {
            enum Step { case lease(Lease), wait, shutDown }
            var stale: [HTTPClientConnection] = []
            let step = state.withLock { state -> Step in
                if state.isShutDown { return .shutDown }
                // Read under the lock: a connection released meanwhile must not look idle "before" now.
                let now = MonotonicClock.now()
                var entry = state.origins[origin, default: OriginState()]
                defer { state.origins[origin] = entry }
                while let candidate = entry.idle.popLast() {
                    if candidate.isReusable(now: now) { return .lease(.reuse(candidate)) }
                    stale.append(candidate)
                    entry.open -= 1
                }
                if entry.open < maxPerOrigin {
                    entry.open += 1
                    return .lease(.open)
                }
                return .wait
            }
            for connection in stale { connection.close() }
            switch step {
            case .lease(let lease): return lease
            case .shutDown: throw .shutDown
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        guard !state.isShutDown, var entry = state.origins[origin],
                            entry.idle.isEmpty && entry.open >= maxPerOrigin
                        else { return true }
                        entry.waiters.append(continuation)
                        state.origins[origin] = entry
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// Returns a connection after an exchange: kept for reuse, or closed.
    func release(_ connection: HTTPClientConnection, reusable: Bool) {
        let (keep, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            var entry = state.origins[connection.origin, default: OriginState()]
            defer { state.origins[connection.origin] = entry }
            let keep = reusable && !state.isShutDown
            if keep { entry.idle.append(connection) } else { entry.open -= 1 }
            return (keep, entry.waiters.isEmpty ? nil : entry.waiters.removeFirst())
        }
        if !keep { connection.close() }
        waiter?.resume()
    }

    /// The permit of an `.open` lease whose connection could not be opened.
    func openFailed(_ origin: HTTPClientURL.Origin) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.origins[origin]?.open -= 1
            guard var entry = state.origins[origin], !entry.waiters.isEmpty else { return nil }
            defer { state.origins[origin] = entry }
            return entry.waiters.removeFirst()
        }
        waiter?.resume()
    }

    /// Closes idle connections and refuses new leases; connections in use close on release.
    func shutdown() {
        let (idle, waiters) = state.withLock { state -> ([HTTPClientConnection], [CheckedContinuation<Void, Never>]) in
            state.isShutDown = true
            var idle: [HTTPClientConnection] = []
            var waiters: [CheckedContinuation<Void, Never>] = []
            for (origin, var entry) in state.origins {
                idle += entry.idle
                waiters += entry.waiters
                entry.open -= entry.idle.count
                entry.idle = []
                entry.waiters = []
                state.origins[origin] = entry
            }
            return (idle, waiters)
        }
        for connection in idle { connection.close() }
        for waiter in waiters { waiter.resume() }
    }

    /// Open connections to `origin` (idle and in use), for tests and metrics.
    func openConnections(to origin: HTTPClientURL.Origin) -> Int {
        state.withLock { $0.origins[origin]?.open ?? 0 }
    }
}
