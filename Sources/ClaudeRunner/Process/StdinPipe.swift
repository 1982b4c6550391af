import CLinux
import Dispatch
import Glibc
import Synchronization
import SystemPackage

/// A CLI's stdin: a pipe made before the process is spawned, whose write end we keep.
///
/// Lines are written by the caller itself, with a non-blocking `write(2)`, so a message is
/// in the pipe when `write` returns: no task or thread has to wake up first. A message for a
/// process still being spawned waits in the pipe's buffer, not in a queue of ours, and the
/// CLI reads it as soon as it starts. Only when the pipe is full (a CLI that does not read, or
/// a line larger than the buffer, such as a photo) does the rest wait in a backlog that a
/// queue of its own writes out as the CLI reads; later lines queue behind it, so order holds.
///
/// The write end is closed exactly once: by whoever holds it when the pipe is closed, or, while
/// the backlog drains, by the drain when it is done.
final class StdinPipe: Sendable {
    struct PipeFailed: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "could not create the CLI's stdin pipe: \(String(cString: strerror(errno)))" }
    }

    /// A line, and who wants to know the instant all of it was in the pipe.
    private struct Pending {
        var bytes: [UInt8]
        var offset = 0
        let written: (@Sendable (ContinuousClock.Instant) -> Void)?
    }

    private struct State {
        /// The write end; -1 once closed.
        var descriptor: Int32
        /// Lines waiting for room in the pipe; while it is not empty, the drain owns `descriptor`.
        var backlog: [Pending] = []
        /// Close once the backlog is written (the CLI is to see end of input).
        var closeWhenDrained = false
    }

    /// The read end until it is handed to the child (swift-subprocess closes it once the
    /// process is spawned, or fails to be); -1 after.
    private let readEnd: Mutex<Int32>
    private let state: Mutex<State>
    private let drainQueue = DispatchQueue(label: "claude.stdin-drain")

    init() throws(PipeFailed) {
        var ends: [Int32] = [-1, -1]
        // Close-on-exec on both: the child gets the read end as its fd 0 (dup2 clears the flag
        // there), and no other process we spawn inherits either end.
        guard pipe2(&ends, O_CLOEXEC) == 0 else { throw PipeFailed(errno: errno) }
        let flags = fcntl(ends[1], F_GETFL)
        _ = fcntl(ends[1], F_SETFL, flags | O_NONBLOCK)
        readEnd = Mutex(ends[0])
        state = Mutex(State(descriptor: ends[1]))
    }

    /// Writes one line now, as far as the pipe takes it; the rest waits for the drain.
    /// `written` is called once the whole line is in the pipe: before `write` returns when it
    /// fits, from the drain otherwise, never if the pipe is closed first.
    func write(_ bytes: [UInt8], written: (@Sendable (ContinuousClock.Instant) -> Void)?) {
        let completed: ContinuousClock.Instant? = state.withLock { state in
            guard state.descriptor >= 0, !state.closeWhenDrained else { return nil }
            var line = Pending(bytes: bytes, written: written)
            guard state.backlog.isEmpty else {
                state.backlog.append(line)
                return nil
            }
            switch Self.writeSome(&line, to: state.descriptor) {
            case .done:
                return ContinuousClock.now
            case .full:
                state.backlog.append(line)
                drain()
                return nil
            case .failed:
                // The CLI is gone (EPIPE): its exit is reported by the stdout side.
                Self.close(&state)
                return nil
            }
        }
        if let completed { written?(completed) }
    }

    /// End of input for the CLI, once what is queued has been written.
    func closeWhenDrained() {
        state.withLock { state in
            if state.backlog.isEmpty { Self.close(&state) } else { state.closeWhenDrained = true }
        }
    }

    /// The process is gone or going: nothing queued will be read, so it is dropped.
    func abandon() {
        state.withLock { state in
            if state.backlog.isEmpty {
                Self.close(&state)
            } else {
                // The drain holds the descriptor: it drops the backlog and closes it on its next round.
                state.backlog.removeAll()
                state.closeWhenDrained = true
            }
        }
    }

    /// The read end, for the child's stdin; from now on closing it is swift-subprocess's job.
    func takeReadEnd() -> FileDescriptor? {
        let descriptor = readEnd.withLock { descriptor in
            defer { descriptor = -1 }
            return descriptor
        }
        return descriptor >= 0 ? FileDescriptor(rawValue: descriptor) : nil
    }

    var isClosed: Bool { state.withLock { $0.descriptor < 0 } }

    // MARK: Draining

    private func drain() {
        drainQueue.async { [self] in
            while true {
                let descriptor = state.withLock { $0.backlog.isEmpty ? -1 : $0.descriptor }
                if descriptor >= 0 { Self.waitWritable(descriptor) }
                var finished: [(@Sendable (ContinuousClock.Instant) -> Void, ContinuousClock.Instant)] = []
                let done = state.withLock { state -> Bool in
                    while !state.backlog.isEmpty {
                        switch Self.writeSome(&state.backlog[0], to: state.descriptor) {
                        case .done:
                            let line = state.backlog.removeFirst()
                            if let written = line.written { finished.append((written, ContinuousClock.now)) }
                        case .full:
                            return false
                        case .failed:
                            Self.close(&state)
                            return true
                        }
                    }
                    return true
                }
                for (written, instant) in finished { written(instant) }
                guard done else { continue }
                // Closed only after the reports, so whoever sees end of input has them.
                state.withLock { state in
                    if state.backlog.isEmpty && state.closeWhenDrained { Self.close(&state) }
                }
                return
            }
        }
    }

    /// Waits until the pipe has room or its reader is gone, waking now and then so a
    /// descriptor is never waited on forever by a drain whose process hung.
    private static func waitWritable(_ descriptor: Int32) {
        var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        _ = poll(&poller, 1, 250)
    }

    private enum WriteOutcome { case done, full, failed }

    private static func writeSome(_ line: inout Pending, to descriptor: Int32) -> WriteOutcome {
        while line.offset < line.bytes.count {
            let count = line.bytes.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress! + line.offset, raw.count - line.offset)
            }
            if count > 0 {
                line.offset += count
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return .full
            } else {
                return .failed
            }
        }
        return .done
    }

    private static func close(_ state: inout State) {
        guard state.descriptor >= 0 else { return }
        _ = Glibc.close(state.descriptor)
        state.descriptor = -1
        state.backlog.removeAll()
        state.closeWhenDrained = false
    }

    deinit {
        // A pipe whose process never started still owns both ends.
        state.withLock { Self.close(&$0) }
        if let unused = takeReadEnd() { try? unused.close() }
    }
}
