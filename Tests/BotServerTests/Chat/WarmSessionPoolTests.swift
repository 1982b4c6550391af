import ClaudeRunner
import Foundation
import Logging
import Synchronization
import Testing

@testable import BotServer

/// Which warm Claude processes the pool gives up: the least recently used idle one beyond
/// MAX_WARM_SESSIONS, idle ones early when memory is short, never a busy one. Time and memory
/// are injected; the sessions are fakes that answer `stopIfIdle` as a ClaudeSession would.
@Suite struct WarmSessionPoolTests {
    /// A clock that moves only when told, so "least recently used" is the test's to decide.
    final class ManualClock: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
        func advance() { instant.withLock { $0 += .seconds(1) } }
    }

    final class Box<Value: Sendable>: Sendable {
        private let stored: Mutex<Value>
        init(_ value: Value) { stored = Mutex(value) }
        var value: Value {
            get { stored.withLock { $0 } }
            set { stored.withLock { $0 = newValue } }
        }
    }

    /// Answers a stop as ClaudeSession does: stopped (and reports its process gone), busy or
    /// not running, as the test sets it.
    final class FakeSession: IdleStoppable {
        let name: String
        private let state = Mutex<(answer: IdleStop, stops: Int)>((.stopped, 0))
        private let pool = Mutex<WarmSessionPool?>(nil)

        init(_ name: String) { self.name = name }

        var stops: Int { state.withLock { $0.stops } }
        func answer(_ answer: IdleStop) { state.withLock { $0.answer = answer } }
        func attach(_ pool: WarmSessionPool) { self.pool.withLock { $0 = pool } }

        func stopIfIdle(reason: String) async -> IdleStop {
            let answer = state.withLock { state in
                state.stops += 1
                return state.answer
            }
            if answer == .stopped { pool.withLock { $0 }?.record(.processEnded, of: self) }
            return answer
        }
    }

    final class Fixture: Sendable {
        let clock: ManualClock
        /// What /proc/meminfo says, as the test sets it.
        let memory: Box<MemoryInfo?>
        let pool: WarmSessionPool

        init(capacity: Int) {
            let clock = ManualClock(), memory = Box<MemoryInfo?>(nil)
            (self.clock, self.memory) = (clock, memory)
            pool = WarmSessionPool(
                capacity: capacity, metrics: nil, logger: Logger(label: "test"), now: { clock.now },
                memory: { memory.value })
        }

        func sessions(_ names: String...) -> [FakeSession] {
            names.map { name in
                let session = FakeSession(name)
                session.attach(pool)
                return session
            }
        }

        /// A whole run of `session`, a second later than the last event.
        @discardableResult
        func run(_ session: FakeSession) async -> [Task<Void, Never>] {
            clock.advance()
            let started = pool.record(.runStarted, of: session)
            await started?.value
            clock.advance()
            let ended = pool.record(.runEnded, of: session)
            await ended?.value
            return [started, ended].compactMap { $0 }
        }
    }

    @Test func theLeastRecentlyUsedIdleSessionIsStoppedBeyondTheCap() async {
        let fixture = Fixture(capacity: 2)
        let sessions = fixture.sessions("a", "b", "c")
        let (a, b, c) = (sessions[0], sessions[1], sessions[2])
        await fixture.run(a)
        await fixture.run(b)
        await fixture.run(a)  // a used again: b is now the least recently used
        #expect(fixture.pool.warmCount == 2)
        #expect(a.stops == 0 && b.stops == 0)

        let stopping = await fixture.run(c)
        #expect(!stopping.isEmpty, "a third warm session is one too many")
        #expect(b.stops == 1)
        #expect(a.stops == 0 && c.stops == 0)
        #expect(fixture.pool.warmCount == 2)
    }

    @Test func aBusySessionIsNeverStoppedAndTheCapWaitsForARunToEnd() async {
        let fixture = Fixture(capacity: 1)
        let sessions = fixture.sessions("a", "b")
        let (a, b) = (sessions[0], sessions[1])
        fixture.clock.advance()
        #expect(fixture.pool.record(.runStarted, of: a) == nil)
        fixture.clock.advance()
        // Both busy: nothing may be stopped, so for now two are warm.
        #expect(fixture.pool.record(.runStarted, of: b) == nil)
        #expect(fixture.pool.warmCount == 2)

        // b ends first and is the only idle one: it goes, although a was started earlier.
        fixture.clock.advance()
        await fixture.pool.record(.runEnded, of: b)?.value
        #expect(b.stops == 1 && a.stops == 0)
        #expect(fixture.pool.warmCount == 1)
        fixture.clock.advance()
        #expect(fixture.pool.record(.runEnded, of: a) == nil, "one warm session is within the cap")
        #expect(a.stops == 0)
    }

    @Test func aVictimThatGotAPromptFirstStaysAndCanBeChosenAgain() async {
        let fixture = Fixture(capacity: 1)
        let sessions = fixture.sessions("a", "b")
        let (a, b) = (sessions[0], sessions[1])
        await fixture.run(a)
        a.answer(.busy)  // its prompt reached it before the stop did
        fixture.clock.advance()
        await fixture.pool.record(.runStarted, of: b)?.value
        #expect(a.stops == 1)
        #expect(fixture.pool.warmCount == 2)

        // The next event finds it idle and over the cap again.
        a.answer(.stopped)
        fixture.clock.advance()
        await fixture.pool.record(.runEnded, of: b)?.value
        #expect(a.stops == 2 && b.stops == 0)
        #expect(fixture.pool.warmCount == 1)
    }

    @Test func aProcessGoneUnnoticedIsForgottenAndAStoppedOneIsCountedAgainOnItsNextRun() async {
        let fixture = Fixture(capacity: 1)
        let sessions = fixture.sessions("a", "b")
        let (a, b) = (sessions[0], sessions[1])
        await fixture.run(a)
        a.answer(.notRunning)
        await fixture.run(b)
        #expect(a.stops == 1)
        #expect(fixture.pool.warmCount == 1, "a session with no process does not count")

        // a's next prompt resumes it: it counts again, and b (idle, older) makes room.
        a.answer(.stopped)
        fixture.clock.advance()
        await fixture.pool.record(.runStarted, of: a)?.value
        #expect(b.stops == 1)
        #expect(fixture.pool.warmCount == 1)
        fixture.pool.record(.processEnded, of: a)
        #expect(fixture.pool.warmCount == 0)
    }

    @Test func underTenPercentAvailableIdleSessionsAreStoppedEarlyOldestFirst() async {
        let gib: UInt64 = 1 << 30
        let fixture = Fixture(capacity: 8)
        let (pool, memory) = (fixture.pool, fixture.memory)
        memory.value = MemoryInfo(total: 10 * gib, available: 2 * gib)
        let sessions = fixture.sessions("s0", "s1", "s2", "s3", "s4")
        for session in sessions { await fixture.run(session) }
        fixture.clock.advance()
        pool.record(.runStarted, of: sessions[0])  // the oldest is busy again: it stays whatever happens

        #expect(pool.relieveMemoryPressure() == nil, "20 % available is no pressure")
        // 5 % of 10 GiB available: 512 MiB short of 10 %, three sessions' worth (190 MB each).
        memory.value = MemoryInfo(total: 10 * gib, available: gib / 2)
        await pool.relieveMemoryPressure()?.value
        #expect(sessions.map(\.stops) == [0, 1, 1, 1, 0])
        #expect(pool.warmCount == 2)

        // Just under: one at least.
        memory.value = MemoryInfo(total: 10 * gib, available: gib - 1)
        await pool.relieveMemoryPressure()?.value
        #expect(sessions.map(\.stops) == [0, 1, 1, 1, 1])
        // Only the busy one is left: nothing to stop.
        #expect(pool.relieveMemoryPressure() == nil)
        #expect(sessions[0].stops == 0)
        memory.value = nil
        #expect(pool.relieveMemoryPressure() == nil, "unknown memory is no reason to stop anything")
    }

    @Test func theDefaultCapFollowsTheMemoryAvailable() {
        let mib: UInt64 = 1 << 20
        #expect(WarmSessionPool.defaultCapacity(nil) == 8)
        #expect(WarmSessionPool.defaultCapacity(MemoryInfo(total: 64 << 30, available: 60 << 30)) == 8)
        #expect(WarmSessionPool.defaultCapacity(MemoryInfo(total: 4 << 30, available: 1229 * mib)) == 3)
        #expect(WarmSessionPool.defaultCapacity(MemoryInfo(total: 1 << 30, available: 100 * mib)) == 1)
    }
}

@Suite struct WarmSessionLimitTests {
    @Test func maxWarmSessionsIsAPositiveNumberOrFollowsMemory() throws {
        let memory = MemoryInfo(total: 8 << 30, available: 2 << 30)
        func load(_ value: String?) throws(ConfigurationError) -> WarmSessionLimit {
            try WarmSessionLimit.load(from: Environment(value.map { ["MAX_WARM_SESSIONS": $0] } ?? [:]), memory: memory)
        }
        #expect(try load("3") == WarmSessionLimit(count: 3, source: .configured))
        #expect(try load(nil) == WarmSessionLimit(count: 5, source: .memory(memory)))
        #expect(try load(nil).description.contains("2.0 GiB available"))
        for bad in ["0", "-1", "many", "2.5", "1001"] {
            let error = #expect(throws: ConfigurationError.self) { try load(bad) }
            #expect(error?.variable == "MAX_WARM_SESSIONS")
            #expect(error?.problem.contains("got \"\(bad)\"") == true, "\(String(describing: error))")
        }
        let unknown = try WarmSessionLimit.load(from: Environment([:]), memory: nil)
        #expect(unknown == WarmSessionLimit(count: 8, source: .memoryUnknown))
    }
}

@Suite struct MemoryInfoTests {
    @Test func meminfoIsReadInBytes() throws {
        let text = """
            MemTotal:       24683784 kB
            MemFree:        19493580 kB
            MemAvailable:   23964088 kB
            Buffers:          123456 kB
            """
        let info = try #require(MemoryInfo.parse(meminfo: text))
        #expect(info.total == 24_683_784 * 1024)
        #expect(info.available == 23_964_088 * 1024)
        #expect(MemoryInfo.parse(meminfo: "MemTotal: 100 kB\n") == nil, "no MemAvailable (a kernel before 3.14)")
        #expect(MemoryInfo.current() != nil, "this machine has /proc/meminfo")
    }

    @Test func aCgroupLimitNarrowsWhatIsAvailable() {
        let gib: UInt64 = 1 << 30
        let host = MemoryInfo(total: 64 * gib, available: 60 * gib)
        // A 2 GiB container using 1.5 GiB, half a GiB of it page cache: 1 GiB left.
        let container = host.limited(by: CgroupMemory(limit: 2 * gib, usage: 3 * gib / 2, inactiveFile: gib / 2))
        #expect(container == MemoryInfo(total: 2 * gib, available: gib))
        #expect(container.availableFraction == 0.5)
        // No real limit (v1 reports a huge number): the host's figures stand.
        #expect(host.limited(by: CgroupMemory(limit: .max / 2, usage: gib, inactiveFile: 0)) == host)
        // The host shorter than the container's limit: the host's available wins.
        let tight = MemoryInfo(total: 64 * gib, available: gib / 4)
        #expect(tight.limited(by: CgroupMemory(limit: 4 * gib, usage: gib, inactiveFile: 0)).available == gib / 4)
    }
}
