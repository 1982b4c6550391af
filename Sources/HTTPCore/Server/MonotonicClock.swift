import Glibc

/// Nanoseconds on CLOCK_MONOTONIC: deadlines must not move when the wall clock is changed.
enum MonotonicClock {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    static func deadline(after duration: Duration) -> UInt64 {
        now() &+ duration.nanoseconds
    }
}

extension Duration {
    /// Whole nanoseconds, saturating for absurdly long durations.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max / 2 : whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
