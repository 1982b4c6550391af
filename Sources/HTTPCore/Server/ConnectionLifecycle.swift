import Synchronization

/// Which connections exist and which of them are idle, so that shutdown can close
/// idle ones at once and let busy ones finish their request.
final class ConnectionLifecycle: Sendable {
    private struct Entry {
        let handle: EventLoop.Handle
        var idle = false
        var task: Task<Void, Never>?
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextID = 0
        var shuttingDown = false
    }

    private let state = Mutex(State())
    private let loop: EventLoop

    init(loop: EventLoop) {
        self.loop = loop
    }

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }
    var count: Int { state.withLock { $0.entries.count } }

    /// Reserves a slot, or returns nil when `limit` connections are open already or we are shutting down.
    func admit(_ handle: EventLoop.Handle, limit: Int) -> Int? {
        state.withLock { state in
            guard !state.shuttingDown, state.entries.count < limit else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(handle: handle)
            return id
        }
    }

    func attach(_ task: Task<Void, Never>, to id: Int) {
        state.withLock { $0.entries[id]?.task = task }
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Marks the connection idle (between requests). Returns false if the server is
    /// shutting down, in which case the connection should close instead of waiting.
    func markIdle(_ id: Int) -> Bool {
        state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.entries[id]?.idle = true
            return true
        }
    }

    func markBusy(_ id: Int) {
        state.withLock { $0.entries[id]?.idle = false }
    }

    /// Refuses new work and closes idle connections; busy ones finish their current request.
    func beginShutdown() {
        let idle = state.withLock { state -> [EventLoop.Handle] in
            state.shuttingDown = true
            return state.entries.values.filter(\.idle).map(\.handle)
        }
        for handle in idle { loop.cancel(handle) }
    }

    /// Ends every remaining connection: fails its socket waits and cancels its task.
    func forceCloseAll() {
        let entries = state.withLock { Array($0.entries.values) }
        for entry in entries {
            loop.cancel(entry.handle)
            entry.task?.cancel()
        }
    }
}
