import CLinux
import Glibc
import Synchronization

/// One epoll instance watched by one dedicated thread. It never runs user code:
/// it only turns readiness into resumed continuations, so connection code can be
/// written as plain `async` functions (read, handle, write) that suspend when a
/// non-blocking socket has nothing to give.
///
/// Every descriptor is registered once, edge-triggered, for both directions.
/// A readiness edge that arrives while nobody waits is remembered as a flag, so a
/// later wait returns at once; a stale flag costs one extra `recv` that answers
/// EAGAIN, never a missed wake-up. Deadlines are checked on a coarse tick
/// (`tickMilliseconds`), which is plenty for timeouts measured in seconds.
final class EventLoop: Sendable {
    struct Handle: Hashable, Sendable {
        let fd: Int32
        let generation: UInt32
    }

    enum Direction { case read, write }

    private struct Waiter {
        let continuation: UnsafeContinuation<Void, any Error>
        let deadline: UInt64?
    }

    private struct Registration {
        let generation: UInt32
        var readWaiter: Waiter?
        var writeWaiter: Waiter?
        var readReady = false
        var writeReady = false
        /// Set by `cancel`: every present and future wait fails with this error.
        var failure: SocketError?
    }

    private struct State {
        var registrations: [Int32: Registration] = [:]
        var nextGeneration: UInt32 = 1
        var stopping = false
    }

    private static let wakeToken = UInt64.max
    private static let tickMilliseconds: Int32 = 100

    private let epollFD: Int32
    private let wakeFD: Int32
    private let state = Mutex(State())

    init() throws(SocketError) {
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw .system(call: "epoll_create1", errno: errno) }
        let wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            close(epollFD)
            throw .system(call: "eventfd", errno: errno)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeToken
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let code = errno
            close(epollFD)
            close(wakeFD)
            throw .system(call: "epoll_ctl", errno: code)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
    }

    deinit {
        close(epollFD)
        close(wakeFD)
    }

    /// Starts the loop's thread. It runs until `stop()`.
    func start() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let loop = Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue()
                loop.runLoop()
                return nil
            }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }

    /// Asks the loop thread to exit after failing every remaining wait with `.closed`.
    func stop() {
        state.withLock { $0.stopping = true }
        wake()
    }

    // MARK: Registration

    func register(_ fd: Int32) throws(SocketError) -> Handle {
        let handle = state.withLock { state -> Handle in
            let generation = state.nextGeneration
            state.nextGeneration &+= 1
            if state.nextGeneration == 0 { state.nextGeneration = 1 }
            state.registrations[fd] = Registration(generation: generation)
            return Handle(fd: fd, generation: generation)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
        event.data.u64 = UInt64(handle.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) != 0 {
            let code = errno
            _ = state.withLock { $0.registrations.removeValue(forKey: fd) }
            throw .system(call: "epoll_ctl(ADD)", errno: code)
        }
        return handle
    }

    /// Forgets the descriptor (the caller closes it afterwards). Pending waits fail with `.closed`.
    func deregister(_ handle: Handle) {
        let waiters = state.withLock { state -> [Waiter] in
            guard let registration = state.registrations[handle.fd],
                registration.generation == handle.generation
            else { return [] }
            state.registrations.removeValue(forKey: handle.fd)
            return [registration.readWaiter, registration.writeWaiter].compactMap { $0 }
        }
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, handle.fd, nil)
        for waiter in waiters { waiter.continuation.resume(throwing: SocketError.closed) }
    }

    /// Fails the current and all future waits on this descriptor with `error`.
    /// Used to close idle connections at shutdown and to force the rest out at the deadline.
    func cancel(_ handle: Handle, with error: SocketError = .closed) {
        let waiters = state.withLock { state -> [Waiter] in
            guard var registration = state.registrations[handle.fd],
                registration.generation == handle.generation
            else { return [] }
            registration.failure = error
            let waiters = [registration.readWaiter, registration.writeWaiter].compactMap { $0 }
            registration.readWaiter = nil
            registration.writeWaiter = nil
            state.registrations[handle.fd] = registration
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }

    // MARK: Waiting

    /// Suspends until the descriptor is ready in `direction`, the deadline (CLOCK_MONOTONIC ns) passes,
    /// or the registration is cancelled.
    func wait(_ handle: Handle, for direction: Direction, deadline: UInt64?) async throws(SocketError) {
        do {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                enum Outcome { case ready, failed(SocketError), suspended }
                let outcome = state.withLock { state -> Outcome in
                    if state.stopping { return .failed(.closed) }
                    guard var registration = state.registrations[handle.fd],
                        registration.generation == handle.generation
                    else { return .failed(.closed) }
                    if let failure = registration.failure { return .failed(failure) }
                    let waiter = Waiter(continuation: continuation, deadline: deadline)
                    switch direction {
                    case .read:
                        if registration.readReady {
                            registration.readReady = false
                            state.registrations[handle.fd] = registration
                            return .ready
                        }
                        precondition(registration.readWaiter == nil, "two readers on one descriptor")
                        registration.readWaiter = waiter
                    case .write:
                        if registration.writeReady {
                            registration.writeReady = false
                            state.registrations[handle.fd] = registration
                            return .ready
                        }
                        precondition(registration.writeWaiter == nil, "two writers on one descriptor")
                        registration.writeWaiter = waiter
                    }
                    state.registrations[handle.fd] = registration
                    return .suspended
                }
                switch outcome {
                case .ready: continuation.resume()
                case .failed(let error): continuation.resume(throwing: error)
                case .suspended: break
                }
            }
        } catch let error as SocketError {
            throw error
        } catch {
            throw .closed
        }
    }

    // MARK: The loop thread

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    private func runLoop() {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        var lastDeadlineScan = MonotonicClock.now()
        var toResume: [UnsafeContinuation<Void, any Error>] = []
        toResume.reserveCapacity(capacity)

        while true {
            let count = epoll_wait(epollFD, events, Int32(capacity), Self.tickMilliseconds)
            if count < 0 && errno != EINTR {
                // Nothing sensible can continue without the poller; fail loudly.
                fatalError("epoll_wait failed: \(String(cString: strerror(errno)))")
            }
            if count > 0 {
                var woken = false
                state.withLock { state in
                    for index in 0..<Int(count) {
                        let event = events[index]
                        if event.data.u64 == Self.wakeToken {
                            woken = true
                            continue
                        }
                        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: event.data.u64))
                        let generation = UInt32(truncatingIfNeeded: event.data.u64 >> 32)
                        guard var registration = state.registrations[fd],
                            registration.generation == generation
                        else { continue }
                        let flags = event.events
                        let failed = flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
                        if failed || flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 {
                            if let waiter = registration.readWaiter {
                                registration.readWaiter = nil
                                toResume.append(waiter.continuation)
                            } else {
                                registration.readReady = true
                            }
                        }
                        if failed || flags & EPOLLOUT.rawValue != 0 {
                            if let waiter = registration.writeWaiter {
                                registration.writeWaiter = nil
                                toResume.append(waiter.continuation)
                            } else {
                                registration.writeReady = true
                            }
                        }
                        state.registrations[fd] = registration
                    }
                }
                for continuation in toResume { continuation.resume() }
                toResume.removeAll(keepingCapacity: true)
                // Only when signalled: otherwise it is a read answering EAGAIN on every wake-up.
                if woken { drainWakeups() }
            }

            let now = MonotonicClock.now()
            if now &- lastDeadlineScan >= UInt64(Self.tickMilliseconds) * 1_000_000 {
                lastDeadlineScan = now
                resumeExpiredWaiters(now: now)
            }
            if state.withLock({ $0.stopping }) {
                failAllWaiters()
                return
            }
        }
    }

    private func drainWakeups() {
        var value: UInt64 = 0
        _ = Glibc.read(wakeFD, &value, 8)
    }

    private func resumeExpiredWaiters(now: UInt64) {
        let expired = state.withLock { state -> [UnsafeContinuation<Void, any Error>] in
            var expired: [UnsafeContinuation<Void, any Error>] = []
            for (fd, var registration) in state.registrations {
                var changed = false
                if let waiter = registration.readWaiter, let deadline = waiter.deadline, deadline <= now {
                    expired.append(waiter.continuation)
                    registration.readWaiter = nil
                    changed = true
                }
                if let waiter = registration.writeWaiter, let deadline = waiter.deadline, deadline <= now {
                    expired.append(waiter.continuation)
                    registration.writeWaiter = nil
                    changed = true
                }
                if changed { state.registrations[fd] = registration }
            }
            return expired
        }
        for continuation in expired { continuation.resume(throwing: SocketError.timedOut) }
    }

    private func failAllWaiters() {
        let waiters = state.withLock { state -> [UnsafeContinuation<Void, any Error>] in
            var waiters: [UnsafeContinuation<Void, any Error>] = []
            for (fd, var registration) in state.registrations {
                if let waiter = registration.readWaiter { waiters.append(waiter.continuation) }
                if let waiter = registration.writeWaiter { waiters.append(waiter.continuation) }
                registration.readWaiter = nil
                registration.writeWaiter = nil
                registration.failure = .closed
                state.registrations[fd] = registration
            }
            return waiters
        }
        for continuation in waiters { continuation.resume(throwing: SocketError.closed) }
    }
}
