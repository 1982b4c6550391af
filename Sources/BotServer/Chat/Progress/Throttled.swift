/// Sends the newest of a stream of values at most once per `interval`: values offered in
/// between replace each other, so what reaches Telegram is always the latest state and
/// never more often than the chat's budget allows. An urgent value (a decision the user just
/// made, a tool that just finished) goes without waiting out the interval.
actor Throttled<Value: Sendable & Equatable> {
    private let interval: Duration
    private let send: @Sendable (Value) async -> Void
    private var pending: Value?
    private var lastSent: Value?
    private var lastSentAt: ContinuousClock.Instant?
    private var urgent = false
    private var flusher: Task<Void, Never>?
    private var sleeper: Task<Void, Never>?
    private var closed = false
    private let clock = ContinuousClock()

    /// `initial`: what the receiver shows already (offering it again sends nothing).
    init(interval: Duration, initial: Value? = nil, send: @escaping @Sendable (Value) async -> Void) {
        self.interval = interval
        self.send = send
        lastSent = initial
        if initial != nil { lastSentAt = clock.now }
    }

    func offer(_ value: Value, urgent: Bool = false) {
        guard !closed else { return }
        guard value != lastSent || pending != nil else { return }
        pending = value == lastSent ? nil : value
        guard pending != nil else { return }
        if urgent {
            self.urgent = true
            sleeper?.cancel()
        }
        if flusher == nil {
            flusher = Task { await self.flush() }
        }
    }

    /// Accepts nothing more and drops what waits; a send in flight is awaited when `wait`.
    func close(wait: Bool = true) async {
        closed = true
        pending = nil
        sleeper?.cancel()
        if wait { await flusher?.value }
    }

    /// Sends `value` now (after an in-flight send) and accepts nothing more.
    func close(with value: Value?) async {
        await close(wait: true)
        if let value, value != lastSent {
            lastSent = value
            await send(value)
        }
    }

    private func flush() async {
        while pending != nil, !closed {
            if !urgent, let lastSentAt, lastSentAt + interval > clock.now {
                let due = lastSentAt + interval
                let sleeper = Task { _ = try? await Task.sleep(until: due) }
                self.sleeper = sleeper
                await sleeper.value
                self.sleeper = nil
                continue
            }
            urgent = false
            guard !closed, let newest = pending else { break }
            pending = nil
            lastSent = newest
            lastSentAt = clock.now
            await send(newest)
        }
        flusher = nil
    }
}
