import CLinux
import Glibc

/// What `ProcessHardening.apply` achieved, for the start-up report to log.
struct Hardening: Sendable, Equatable {
    /// The secrets' values are gone from the environment block /proc/<pid>/environ shows.
    var environmentWiped: Bool
    /// PR_SET_DUMPABLE is off: /proc/<pid>/environ, mem and fd, and ptrace, are closed to
    /// processes of the bot's user that lack CAP_SYS_PTRACE.
    var nonDumpable: Bool
    /// Why a step did not happen, one sentence each; empty when both did.
    var problems: [String]
}

/// Keeps the bot's secrets from Claude's tools even when they run as the bot's own user:
/// a second line behind the minimal environment the CLI is given. `serve` applies it once
/// the configuration is read, before the application starts.
///
/// Nothing of the bot needs to be dumpable: it reads only /proc/self/exe (a link its own
/// process may always follow) and the environ of other processes (Claude's, dumpable
/// again after their exec); a process may always open its own /proc/self/fd.
enum ProcessHardening {
    enum Failure: Error, CustomStringConvertible {
        case statUnreadable(String)
        case noEnvironmentBlock
        case prctl(String)

        var description: String {
            let fix = "give the secrets as NAME_FILE variables, which never enter the environment"
            switch self {
            case let .statUnreadable(reason):
                return "cannot read /proc/self/stat (\(reason)), so the secrets stay in /proc/<pid>/environ; mount /proc, or \(fix)"
            case .noEnvironmentBlock:
                return "/proc/self/stat names no environment block, so the secrets stay in /proc/<pid>/environ; \(fix)"
            case let .prctl(reason):
                return "prctl(PR_SET_DUMPABLE, 0) failed (\(reason)): processes of this user can read the bot's memory; run Claude as a user of its own"
            }
        }
    }

    static func apply(secretNames: [String] = Environment.secretNames) -> Hardening {
        var hardening = Hardening(environmentWiped: false, nonDumpable: false, problems: [])
        do {
            try wipeEnvironmentBlock(names: secretNames)
            hardening.environmentWiped = true
        } catch {
            hardening.problems.append(error.description)
        }
        do {
            try makeNonDumpable()
            hardening.nonDumpable = true
        } catch {
            hardening.problems.append(error.description)
        }
        return hardening
    }

    /// Overwrites with NUL bytes the value of every `names` entry in the environment block the
    /// process started with. /proc/<pid>/environ shows that block (mm->env_start to env_end),
    /// which setenv, unsetenv and clearenv never change: they only repoint `environ`. The
    /// names stay, so the entries read as empty (getenv too: the configuration holds its own
    /// copies by now).
    static func wipeEnvironmentBlock(names: [String]) throws(Failure) {
        let (start, end) = try environmentBlockBounds()
        guard let base = UnsafeMutablePointer<UInt8>(bitPattern: start) else { throw .noEnvironmentBlock }
        let block = UnsafeMutableBufferPointer(start: base, count: Int(end - start))
        let prefixes = names.map { Array(($0 + "=").utf8) }
        var entryStart = 0
        while entryStart < block.count {
            var entryEnd = entryStart
            while entryEnd < block.count, block[entryEnd] != 0 { entryEnd += 1 }
            if let prefix = prefixes.first(where: { block[entryStart..<entryEnd].starts(with: $0) }) {
                for index in (entryStart + prefix.count)..<entryEnd { block[index] = 0 }
            }
            entryStart = entryEnd + 1
        }
    }

    static func makeNonDumpable() throws(Failure) {
        guard clinux_set_not_dumpable() == 0 else { throw .prctl(String(cString: strerror(errno))) }
        guard clinux_is_dumpable() == 0 else { throw .prctl("the flag did not stay off") }
    }

    /// mm->env_start and env_end: fields 50 and 51 of /proc/self/stat (Linux 3.5 and later).
    private static func environmentBlockBounds() throws(Failure) -> (start: UInt, end: UInt) {
        let descriptor = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .statUnreadable(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw .statUnreadable(String(cString: strerror(errno)))
            }
            bytes += chunk[0..<count]
        }
        // The command name (field 2) is in parentheses and may itself hold spaces and ')':
        // fields are counted from the last ')', which is followed by field 3.
        guard let parenthesis = bytes.lastIndex(of: UInt8(ascii: ")")) else { throw .noEnvironmentBlock }
        let fields = bytes[(parenthesis + 1)...].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") })
        guard fields.count > 51 - 3,
            let start = UInt(String(decoding: fields[50 - 3], as: UTF8.self)),
            let end = UInt(String(decoding: fields[51 - 3], as: UTF8.self)),
            start > 0, end > start
        else { throw .noEnvironmentBlock }
        return (start, end)
    }
}
