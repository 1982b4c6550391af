import Glibc
import Subprocess
import Synchronization
import SystemPackage

/// One running `claude` process: stdout as a stream of lines, stdin as lines written in
/// order, stderr kept (bounded) for error messages, signals on request. Everything that
/// touches swift-subprocess's `Execution` happens inside its `run` body, so nothing of it
/// escapes: signals are handed to that body through a stream. Stdin is a pipe of our own
/// (StdinPipe), written by the caller directly, so a message is in the pipe when `write`
/// returns, even while the process is still being spawned.
final class CLIProcess: Sendable {
    struct Launch: Sendable {
        var executable: String
        var arguments: [String]
        var environment: [String: String]
        var workingDirectory: String
        var maxLineLength: Int
        var stderrLimit: Int
    }

    enum Event: Sendable {
        case line([UInt8])
        /// stdout ended and the process was reaped (or never started).
        case exited(ExitStatus, stderr: String)
    }

    let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    /// A failure to make the pipe is reported by the start, as a launch failure.
    private let stdin: Result<StdinPipe, StdinPipe.PipeFailed>
    private var pipe: StdinPipe? { try? stdin.get() }
    private let signals: AsyncStream<Signal>.Continuation
    private let signalStream: AsyncStream<Signal>
    private let state = Mutex<(pid: pid_t?, exited: Bool)>((nil, false))
    private let stderrTail: Mutex<[UInt8]> = Mutex([])

    init() {
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
        stdin = Result { () throws(StdinPipe.PipeFailed) in try StdinPipe() }
        (signalStream, signals) = AsyncStream.makeStream(of: Signal.self)
    }

    var pid: pid_t? { state.withLock { $0.pid } }
    var hasExited: Bool { state.withLock { $0.exited } }

    /// Spawns the process once `predecessor` (a stop in progress) is done; events arrive on
    /// `events` until `.exited`. Lines written meanwhile wait in order.
    func start(_ launch: Launch, after predecessor: Task<Void, Never>? = nil) {
        Task {
            await predecessor?.value
            await self.run(launch)
        }
    }

    /// Writes one line (which must end in "\n") to stdin, in order with the others. `written`
    /// is called with the instant the whole line was in the pipe: before this returns when the
    /// pipe has room, later from the pipe's drain otherwise, never if it never is.
    func write(_ line: [UInt8], written: (@Sendable (ContinuousClock.Instant) -> Void)? = nil) {
        pipe?.write(line, written: written)
    }

    /// Closes stdin once the queued lines are written: the CLI finishes its work and exits.
    func closeInput() { pipe?.closeWhenDrained() }

    func send(_ signal: Signal) { signals.yield(signal) }

    private func run(_ launch: Launch) async {
        var platform = PlatformOptions()
        // Its own session: a terminal's signals, or ours to our group, never hit it by accident.
        platform.createSession = true
        let status: ExitStatus
        do {
            // `start` runs once, so the read end is there to take.
            guard let readEnd = try stdin.get().takeReadEnd() else { preconditionFailure("a CLIProcess started twice") }
            let result = try await Subprocess.run(
                .path(FilePath(launch.executable)), arguments: Arguments(launch.arguments),
                environment: .custom(Dictionary(uniqueKeysWithValues: launch.environment.compactMap { key, value in
                    Environment.Key(rawValue: key).map { ($0, value) }
                })),
                workingDirectory: FilePath(launch.workingDirectory), platformOptions: platform,
                input: .fileDescriptor(readEnd, closeAfterSpawningProcess: true), output: .sequence, error: .sequence
            ) { execution in
                self.state.withLock { $0.pid = execution.processIdentifier.value }
                await self.serve(execution, launch)
            }
            status = ExitStatus(result.terminationStatus)
        } catch {
            status = .launchFailed("\(error)")
        }
        pipe?.abandon()
        signals.finish()
        state.withLock { $0.exited = true }
        let stderr = String(decoding: stderrTail.withLock { $0 }, as: UTF8.self)
        eventSink.yield(.exited(status, stderr: stderr))
        eventSink.finish()
    }

    private func serve(_ execution: Execution<FileDescriptorInput, SequenceOutput, SequenceOutput>, _ launch: Launch) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await signal in self.signalStream { try? execution.send(signal: signal) }
            }
            group.addTask {
                // Always drained, so a chatty stderr can never fill its pipe and stall the CLI.
                do {
                    for try await chunk in execution.standardError {
                        let bytes = chunk.withUnsafeBytes { Array($0) }
                        self.stderrTail.withLock { tail in
                            tail += bytes
                            if tail.count > launch.stderrLimit { tail.removeFirst(tail.count - launch.stderrLimit) }
                        }
                    }
                } catch {}
            }
            var framer = LineFramer(maxLineLength: launch.maxLineLength)
            do {
                for try await chunk in execution.standardOutput {
                    let lines = try chunk.withUnsafeBytes { raw throws(LineFramer.LineTooLong) in try framer.append(raw) }
                    for line in lines { eventSink.yield(.line(line)) }
                }
                if let last = framer.finish() { eventSink.yield(.line(last)) }
            } catch {
                // A line over the limit: the stream cannot be trusted any more; end the process.
                stderrTail.withLock { $0 += Array("\n[runner] \(error)".utf8) }
                try? execution.send(signal: .kill)
            }
            // stdout is closed: the process is exiting. Its stdin closes too (a CLI that waits
            // for end of input would otherwise never exit), and the signal task ends.
            pipe?.abandon()
            signals.finish()
            await group.waitForAll()
        }
    }
}

/// How a CLI process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)
    case launchFailed(String)

    init(_ status: TerminationStatus) {
        switch status {
        case .exited(let code): self = .exited(code)
        case .signaled(let signal): self = .signalled(signal)
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signalled(let signal): return "killed by signal \(signal)"
        case .launchFailed(let reason): return "could not start: \(reason)"
        }
    }
}
