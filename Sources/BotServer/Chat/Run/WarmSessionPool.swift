import ClaudeRunner
import Logging
import Synchronization

/// A session whose CLI process the pool may stop. `ClaudeSession` is one; the tests use fakes.
protocol IdleStoppable: AnyObject, Sendable {
    /// Stops the process if it waits idle; never one with a run or a permission request open.
    func stopIfIdle(reason: String) async -> IdleStop
}

extension ClaudeSession: IdleStoppable {}

/// The Claude processes kept warm between runs, and which to give up. Each holds about 190 MB,
/// so beyond MAX_WARM_SESSIONS the least recently used idle one is stopped, and when the
/// memory left falls under 10 % idle ones are stopped before their idle timeout. A stopped
/// session resumes (`--resume`) on its conversation's next prompt, as after the idle timeout.
///
/// A busy one (a run in progress, an approval open) is never stopped: with every process
/// busy the count may exceed the cap until a run ends. The sessions report what they do as a
/// `ClaudeSessionObserver`, synchronously and in order; hence a Mutex, not an actor, whose
/// calls would arrive through tasks in any order. The stops themselves run as tasks.
final class WarmSessionPool: ClaudeSessionObserver {
    /// Idle ones are stopped early while less than this share of memory is available.
    static let pressureThreshold = 0.10
    /// What one warm CLI holds (measured: ~190 MB), to judge how many to stop under pressure.
    static let bytesPerSession: UInt64 = 190 << 20
    /// The default MAX_WARM_SESSIONS allows this much available memory per session, leaving
    /// room for the tools the sessions run (builds, tests) and for the system.
    static let defaultBytesPerSession: UInt64 = 400 << 20
    static let defaultMaximum = 8

    private struct Entry {
        let session: any IdleStoppable
        var lastUsed: ContinuousClock.Instant
        var busy: Bool
        /// A stop was started: the process is on its way out, so it is not counted or chosen again.
        var stopping = false
    }

    /// Why sessions were stopped, for the logs and `botserver_warm_sessions_stopped_total`.
    enum Reason: String, Sendable {
        case limit, memory
    }

    let capacity: Int
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant
    private let memory: @Sendable () -> MemoryInfo?
    private let metrics: BotMetrics?
    private let logger: Logger

    init(
        capacity: Int, metrics: BotMetrics?, logger: Logger,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        memory: @escaping @Sendable () -> MemoryInfo? = { MemoryInfo.current() }
    ) {
        self.capacity = max(1, capacity)
        self.metrics = metrics
        self.logger = logger
        self.now = now
        self.memory = memory
    }

    /// min(8, available / 400 MB), at least 1; 8 when the memory cannot be read.
    static func defaultCapacity(_ memory: MemoryInfo?) -> Int {
        guard let memory else { return defaultMaximum }
        return max(1, min(defaultMaximum, Int(memory.available / defaultBytesPerSession)))
    }

    /// Processes alive now (those being stopped included: they still hold their memory).
    var warmCount: Int { entries.withLock { $0.count } }

    // MARK: What the sessions report

    func session(_ session: ClaudeSession, did event: ClaudeSessionEvent) {
        record(event, of: session)
    }

    /// Books the event and stops what the cap no longer allows. Returns the task stopping
    /// them (nil when nothing is stopped), which only tests wait for.
    @discardableResult
    func record(_ event: ClaudeSessionEvent, of session: any IdleStoppable) -> Task<Void, Never>? {
        let id = ObjectIdentifier(session)
        let victims: [any IdleStoppable] = entries.withLock { entries in
            switch event {
            case .runStarted:
                // A victim chosen a moment ago that got a prompt first is kept: its stop finds it busy.
                entries[id] = Entry(session: session, lastUsed: now(), busy: true)
            case .runEnded:
                guard entries[id] != nil else { return [] }
                entries[id]?.busy = false
                entries[id]?.lastUsed = now()
            case .processEnded:
                entries[id] = nil
            }
            metrics?.warmSessions(entries.count)
            let counted = entries.values.filter { !$0.stopping }.count
            return Self.chooseIdle(in: &entries, count: counted - capacity)
        }
        return stop(victims, reason: .limit)
    }

    // MARK: Memory pressure

    /// Checks the memory left every `interval` until cancelled.
    func watchMemory(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            relieveMemoryPressure()
        }
    }

    /// Under 10 % available: stops as many idle sessions (least recently used first) as it
    /// takes to get back over it, at least one. Returns the task stopping them.
    @discardableResult
    func relieveMemoryPressure() -> Task<Void, Never>? {
        guard let info = memory(), info.availableFraction < Self.pressureThreshold else { return nil }
        let floor = UInt64(Double(info.total) * Self.pressureThreshold)
        let short = floor > info.available ? floor - info.available : 0
        let count = max(1, Int((short + Self.bytesPerSession - 1) / Self.bytesPerSession))
        let victims = entries.withLock { Self.chooseIdle(in: &$0, count: count) }
        guard !victims.isEmpty else { return nil }
        logger.warning("memory is short; stopping idle Claude sessions early", metadata: [
            "available": "\(MemoryInfo.describe(info.available))", "total": "\(MemoryInfo.describe(info.total))",
            "stopping": "\(victims.count)",
        ])
        return stop(victims, reason: .memory)
    }

    // MARK: Choosing and stopping

    /// The `count` least recently used idle sessions not already being stopped, marked as stopping.
    private static func chooseIdle(in entries: inout [ObjectIdentifier: Entry], count: Int) -> [any IdleStoppable] {
        guard count > 0 else { return [] }
        let chosen = entries.filter { !$0.value.busy && !$0.value.stopping }
            .sorted { $0.value.lastUsed < $1.value.lastUsed }
            .prefix(count)
        for (id, _) in chosen { entries[id]?.stopping = true }
        return chosen.map(\.value.session)
    }

    private func stop(_ victims: [any IdleStoppable], reason: Reason) -> Task<Void, Never>? {
        guard !victims.isEmpty else { return nil }
        let because = reason == .limit ? "beyond MAX_WARM_SESSIONS (\(capacity))" : "memory short (under 10 % available)"
        return Task {
            await withTaskGroup(of: Void.self) { group in
                for victim in victims {
                    group.addTask { await self.stopOne(victim, reason: reason, because: because) }
                }
            }
        }
    }

    private func stopOne(_ victim: any IdleStoppable, reason: Reason, because: String) async {
        let outcome = await victim.stopIfIdle(reason: because)
        let id = ObjectIdentifier(victim)
        switch outcome {
        case .stopped:
            // The session reported .processEnded itself, which removed it.
            metrics?.warmSessionStopped(reason.rawValue)
        case .busy:
            // A prompt came first: it stays, and counts again.
            entries.withLock { $0[id]?.stopping = false }
        case .notRunning:
            // Gone without our hearing of it: forget it rather than count it for ever, unless
            // a prompt has started it again since (which booked it afresh, not as stopping).
            entries.withLock { entries in
                guard entries[id]?.stopping == true else { return }
                entries[id] = nil
                metrics?.warmSessions(entries.count)
            }
        }
    }
}
