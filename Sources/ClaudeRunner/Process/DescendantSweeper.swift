import CLinux
import Glibc

/// Makes sure nothing a CLI started outlives it. Bash tool commands run in sessions of
/// their own, so neither the CLI's process group nor its death reaches them: a SIGKILLed
/// CLI leaves them running, reparented away.
///
/// The first line of defence is `claude-reaper` (Sources/ClaudeReaper): the CLI runs as
/// its child, it is the subreaper of everything below, and it kills and reaps all of it.
/// This sweeper is the second line, for a reaper that was itself killed, or none at all.
/// Two mechanisms together:
/// - every CLI gets a unique marker variable in its environment, which its tools inherit:
///   a scan of /proc/*/environ finds them wherever they were reparented to, even after the
///   CLI itself is gone (plus the ppid tree, for a tool that scrubbed its environment);
/// - the host process is made a child subreaper, so orphans become our children instead of
///   init's; we kill them and reap exactly those pids. Reaping by pid (never wait(-1))
///   cannot steal the exit status of a process swift-subprocess waits for.
public enum DescendantSweeper {
    public static let markerVariable = "CLAUDE_RUNNER_MARKER"

    /// Once per process, before the first CLI starts: SIGPIPE ignored (a write to a CLI that
    /// just died must be an error, not the end of the server), and, when no `claude-reaper`
    /// is used, this process made the subreaper.
    public static func prepareHost(subreaper: Bool) {
        _ = ignoreSIGPIPE
        if subreaper { _ = becomeSubreaper }
    }

    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()
    private static let becomeSubreaper: Void = { _ = clinux_set_child_subreaper() }()

    public static var isSubreaper: Bool { clinux_is_child_subreaper() == 1 }

    /// Living processes whose environment carries `marker`, plus the descendants of `root`.
    public static func processes(marked marker: String, descendantsOf root: pid_t? = nil) -> Set<pid_t> {
        let needle = Array("\(markerVariable)=\(marker)".utf8) + [0]
        var found: Set<pid_t> = []
        var parents: [pid_t: pid_t] = [:]
        for pid in allPIDs() where pid != getpid() {
            if let parent = parentPID(of: pid) { parents[pid] = parent }
            if environmentContains(pid: pid, needle) { found.insert(pid) }
        }
        if let root {
            var frontier: Set<pid_t> = [root]
            while !frontier.isEmpty {
                let children = Set(parents.filter { frontier.contains($0.value) }.keys).subtracting(found)
                found.formUnion(children)
                frontier = children
            }
        }
        return found
    }

    /// SIGKILLs every marked process and its process group, repeating until none is left
    /// (a dying shell may still fork) or `deadline` passes, then reaps those that are our
    /// children. `exclude` (the CLI itself, reaped by its launcher) is killed but not reaped.
    /// Returns the pids that were found alive.
    @discardableResult
    public static func killAll(marked marker: String, root: pid_t?, exclude: Set<pid_t> = [], timeout: Duration = .seconds(3))
        async -> Set<pid_t>
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var killed: Set<pid_t> = []
        while clock.now < deadline {
            let alive = processes(marked: marker, descendantsOf: root).filter { !isZombie($0) }
            if alive.isEmpty { break }
            for pid in alive {
                // Tool commands lead their own sessions and groups: take the whole group down.
                if getpgid(pid) == pid { kill(-pid, SIGKILL) }
                kill(pid, SIGKILL)
            }
            killed.formUnion(alive)
            try? await Task.sleep(for: .milliseconds(20))
        }
        await reap(killed.subtracting(exclude), until: deadline)
        return killed
    }

    /// waitpid for each pid that is (now) our child, until all are reaped or the deadline.
    private static func reap(_ pids: Set<pid_t>, until deadline: ContinuousClock.Instant) async {
        var remaining = pids
        let clock = ContinuousClock()
        while !remaining.isEmpty {
            for pid in remaining {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                // Reaped, or not our child (init or its real parent reaps it).
                if result == pid || (result < 0 && errno == ECHILD) { remaining.remove(pid) }
            }
            if remaining.isEmpty || clock.now >= deadline { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: /proc

    private static func allPIDs() -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var pids: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = pid_t(name) { pids.append(pid) }
        }
        return pids
    }

    private static func read(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    private static func environmentContains(pid: pid_t, _ needle: [UInt8]) -> Bool {
        guard let environment = read("/proc/\(pid)/environ"), environment.count >= needle.count - 1 else { return false }
        // Entries are NUL-terminated; match a whole entry (at the start or after a NUL).
        let padded = [0] + environment + [0]
        let target = [UInt8(0)] + needle
        var index = 0
        while index + target.count <= padded.count {
            if padded[index] == 0 && padded[index..<(index + target.count)].elementsEqual(target) { return true }
            index += 1
        }
        return false
    }

    /// Fields of /proc/<pid>/stat after the parenthesised command name.
    private static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let bytes = read("/proc/\(pid)/stat", limit: 4096) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    private static func parentPID(of pid: pid_t) -> pid_t? {
        guard let fields = statFields(pid), fields.count > 1 else { return nil }
        return pid_t(fields[1])
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        statFields(pid)?.first == "Z"
    }
}
