/// Sends the newest of a stream of values at most once per `interval`: values offered in
/// between replace each other, so what reaches Telegram is always the latest state and
/// never more often than the chat's budget allows.
actor Throttled<Value: Sendable & Equatable> {
    private let interval: Duration
    private let send: @Sendable (Value) async -> Void
    private var pending: Value?
    private var lastSent: Value?
    private var lastSentAt: ContinuousClock.Instant?
    private var flusher: Task<Void, Never>?
    private var closed = false
    private let clock = ContinuousClock()

    init(interval: Duration, send: @escaping @Sendable (Value) async -> Void) {
        self.interval = interval
        self.send = send
    }

    func offer(_ value: Value) {
        guard !closed, value != lastSent || pending != nil else { return }
        pending = value
        if flusher == nil {
            flusher = Task { await self.flush() }
        }
    }

    /// Sends `value` now (after an in-flight send) and accepts nothing more.
    func close(with value: Value?) async {
        closed = true
        pending = nil
        let running = flusher
        running?.cancel()
        await running?.value
        if let value, value != lastSent {
            lastSent = value
            await send(value)
        }
    }

    private func flush() async {
        while let value = pending, !closed {
            if let lastSentAt {
                let due = lastSentAt + interval
                if due > clock.now {
                    do { try await Task.sleep(until: due) } catch { break }
                }
            }
            guard !closed, let newest = pending else { break }
            _ = value
            pending = nil
            lastSent = newest
            lastSentAt = clock.now
            await send(newest)
        }
        flusher = nil
    }
}
