/// The global cap on Claude processes working at once (MAX_CONCURRENT_RUNS). A run beyond
/// it waits its turn in arrival order; a waiting run that is cancelled leaves the line.
actor RunSlots {
    private let capacity: Int
    private var inUse = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextID = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var running: Int { inUse }
    var waiting: Int { waiters.count }

    /// Takes a slot at once if one is free.
    func tryAcquire() -> Bool {
        guard inUse < capacity, waiters.isEmpty else { return false }
        inUse += 1
        return true
    }

    /// Waits for a slot; false if the task was cancelled first (then no slot is held).
    func acquire() async -> Bool {
        if tryAcquire() { return true }
        nextID += 1
        let id = nextID
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(returning: false)
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.leave(id) }
        }
    }

    /// Position in line (1 = next), for the "queued" notice.
    var queueLength: Int { waiters.count }

    func release() {
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: true)  // the slot passes on
        } else {
            inUse = max(0, inUse - 1)
        }
    }

    private func leave(_ id: Int) {
        if let index = waiters.firstIndex(where: { $0.id == id }) {
            waiters.remove(at: index).continuation.resume(returning: false)
        }
    }
}
