/// MAX_WARM_SESSIONS: how many Claude processes may stay alive between runs (WarmSessionPool).
/// Unset, it follows the memory available at start: min(8, MemAvailable / 400 MB), at least 1.
struct WarmSessionLimit: Sendable, Equatable, CustomStringConvertible {
    enum Source: Sendable, Equatable {
        case configured
        /// Computed from this much memory available at start.
        case memory(MemoryInfo)
        /// /proc/meminfo could not be read: the largest default.
        case memoryUnknown
    }

    let count: Int
    let source: Source

    static let variable = "MAX_WARM_SESSIONS"
    static let range = 1...1000

    static func load(from environment: Environment, memory: @autoclosure () -> MemoryInfo?) throws(ConfigurationError) -> WarmSessionLimit {
        if let text = environment.optional("MAX_WARM_SESSIONS") {
            guard let count = Int(text), range.contains(count) else {
                throw ConfigurationError(
                    variable: variable,
                    problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound) (Claude processes kept alive between prompts; "
                        + "leave it unset to follow the memory available), got \"\(text)\"")
            }
            return WarmSessionLimit(count: count, source: .configured)
        }
        let memory = memory()
        return WarmSessionLimit(
            count: WarmSessionPool.defaultCapacity(memory), source: memory.map(Source.memory) ?? .memoryUnknown)
    }

    /// For the start-up log and `botserver doctor`.
    var description: String {
        switch source {
        case .configured:
            return "up to \(count) (\(Self.variable))"
        case .memory(let memory):
            return "up to \(count) (default for \(MemoryInfo.describe(memory.available)) available; set \(Self.variable) to change)"
        case .memoryUnknown:
            return "up to \(count) (default; the available memory could not be read; set \(Self.variable) to change)"
        }
    }
}
