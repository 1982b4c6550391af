import Glibc

/// Wall-clock time as stored in the database: milliseconds since 1970, UTC.
enum UnixTime {
    static func nowMillis() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec / 1_000_000)
    }
}

extension UnixTime {
    /// Midnight UTC of today, for "cost today".
    static func startOfDayMillis() -> Int64 {
        let now = nowMillis()
        return now - now % 86_400_000
    }
}
