import CLinux
import Glibc

/// A child process started with posix_spawn and reaped with waitpid: what the test support
/// uses instead of Foundation's Process, whose waitUntilExit spins a run loop on Linux and,
/// called from two threads at once, was seen never to return, taking Swift's whole
/// cooperative pool (two threads here) with it.
public final class ChildProcess: @unchecked Sendable {
    // Descriptors are owned here and closed once; used by one test at a time.
    public let pid: pid_t
    private var input: Int32
    private let output: Int32
    private var exitStatus: Int32?

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Starts `arguments[0]` (looked up on PATH) with pipes for stdin and stdout; stderr
    /// goes to /dev/null unless `captureStandardError`, which sends it into stdout.
    public init(_ arguments: [String], captureStandardError: Bool = false) throws {
        var inputPipe: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        // Close-on-exec from the start, so no child spawned by another thread meanwhile
        // holds these pipes open (posix_spawn's dup2 clears the flag on the child's 0, 1, 2).
        guard pipe2(&inputPipe, O_CLOEXEC) == 0, pipe2(&outputPipe, O_CLOEXEC) == 0 else {
            throw Failure("pipe failed: errno \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        if captureStandardError {
            posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // The child gets its stdio and nothing else, whatever the test process has open
        // without close-on-exec. A fake server that inherited a test's socket kept it open
        // after the test closed it: the client saw no FIN and sat out its 30 s timeout.
        // Last, because the dup2s above still read the pipes' own descriptors.
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        // No blocked signals and default dispositions, as from a shell: the spawning thread
        // may be one of Swift's or Dispatch's, with signals blocked that the child relies on.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        var allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, arguments[0], &actions, &attributes, &argv, environ)
        close(inputPipe[0])
        close(outputPipe[1])
        guard status == 0 else {
            close(inputPipe[1])
            close(outputPipe[0])
            throw Failure("cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        pid = child
        input = inputPipe[1]
        output = outputPipe[0]
    }

    deinit {
        if input >= 0 { close(input) }
        close(output)
        if exitStatus == nil { _ = stop(within: .seconds(2)) }
    }

    /// One line of stdout, without its newline; nil at end of file. Blocks.
    public func readLine() -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(output, &byte, 1) == 1 {
            if byte == 10 { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }

    /// All of stdout until the child closes it. Blocks.
    public func readAll() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// Closes stdin and waits up to `limit` for the child to exit, then SIGKILLs it. Returns
    /// the wait status. Never waits unboundedly.
    @discardableResult
    public func stop(within limit: Duration = .seconds(5)) -> Int32 {
        closeInput()
        if let exitStatus { return exitStatus }
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var status: Int32 = 0
        while clock.now < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                return status
            }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        exitStatus = status
        return status
    }

    /// Runs a command to completion; returns its exit code and its output (stdout and stderr).
    public static func run(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> (status: Int32, output: String) {
        let child = try ChildProcess(arguments, captureStandardError: true)
        child.closeInput()
        let output = child.readAll()
        let status = child.stop(within: timeout)
        return ((status >> 8) & 0xFF, output)
    }
}
