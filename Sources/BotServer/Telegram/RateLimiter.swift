/// A rate with bursts, as the generic cell rate algorithm (GCRA): one "theoretical arrival
/// time" per limiter. Reserving a slot is a single step with no waiting inside, so it stays
/// correct in an actor whose methods interleave at every `await`: callers reserve, then
/// sleep for the delay they were given.
struct RateLimiter: Sendable {
    /// Spacing between slots once the burst is used up.
    let interval: Duration
    /// Slots that may be used back to back.
    let burst: Int
    private var theoreticalArrival: ContinuousClock.Instant?

    init(interval: Duration, burst: Int) {
        self.interval = interval
        self.burst = max(1, burst)
    }

    /// At most `count` per `window` over any window, with `burst` of them back to back:
    /// burst + window / interval ≤ count.
    init(count: Int, per window: Duration, burst: Int) {
        let burst = max(1, min(burst, count - 1))
        self.init(interval: window / max(1, count - burst), burst: burst)
    }

    /// Takes the next slot; returns how long to wait before using it (zero: now).
    mutating func reserve(now: ContinuousClock.Instant) -> Duration {
        let arrival = max(theoreticalArrival ?? now, now)
        let allowedAt = arrival - interval * (burst - 1)
        theoreticalArrival = arrival + interval
        return allowedAt > now ? allowedAt - now : .zero
    }

    /// How long until a slot is free, without taking it. `reserving` slots of the burst are
    /// kept back: a request of lower priority waits until using a slot would still leave
    /// that many for the requests that matter more.
    func delay(now: ContinuousClock.Instant, reserving reserved: Int = 0) -> Duration {
        let arrival = max(theoreticalArrival ?? now, now)
        let usable = max(1, burst - reserved)
        let allowedAt = arrival - interval * (usable - 1)
        return allowedAt > now ? allowedAt - now : .zero
    }

    /// Takes a slot that `delay` said is free now.
    mutating func take(now: ContinuousClock.Instant) {
        theoreticalArrival = max(theoreticalArrival ?? now, now) + interval
    }

    /// Whether the limiter has fully recovered: forgetting it now changes nothing.
    func isIdle(now: ContinuousClock.Instant) -> Bool {
        theoreticalArrival.map { $0 <= now } ?? true
    }

    /// Nothing may be sent before `instant` (Telegram's retry_after); slots resume after it.
    mutating func block(until instant: ContinuousClock.Instant) {
        // Treat the wait as a spent burst: the first slot after it is at `instant`, then spaced.
        let arrival = instant + interval * (burst - 1)
        if arrival > (theoreticalArrival ?? instant) { theoreticalArrival = arrival }
    }
}
