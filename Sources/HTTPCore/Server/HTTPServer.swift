import CLinux
import Glibc
import Logging
import Synchronization

/// An HTTP/1.1 server on POSIX sockets: one epoll thread for readiness, one Swift
/// task per connection for everything else.
///
/// Life cycle: `start()` binds and begins accepting; `shutdown(gracePeriod:)` stops
/// accepting, closes idle connections, lets in-flight requests finish until the
/// grace period ends, then closes whatever is left; `waitUntilStopped()` returns
/// after that.
public final class HTTPServer: Sendable {
    private enum Phase {
        case created
        case bound(listener: ListeningSocket, handle: EventLoop.Handle)
        case running(listener: ListeningSocket, handle: EventLoop.Handle)
        case stopping
        case stopped
    }

    public let configuration: HTTPServerConfiguration
    private let router: Router
    private let logger: Logger
    private let loop: EventLoop
    private let lifecycle: ConnectionLifecycle
    /// Set when serving HTTPS.
    private let tls: TLSContext?
    private let phase = Mutex(Phase.created)
    private let stoppedWaiters = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let boundPort = Mutex(0)

    public init(configuration: HTTPServerConfiguration, router: Router, logger: Logger) throws(HTTPServerError) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        do {
            loop = try EventLoop()
        } catch {
            throw .eventLoop(error)
        }
        lifecycle = ConnectionLifecycle(loop: loop)
        if let files = configuration.tls {
            do {
                tls = try TLSContext.server(
                    certificateChainFile: files.certificateChainPath, privateKeyFile: files.privateKeyPath)
            } catch {
                throw .tls(error.description)
            }
        } else {
            tls = nil
        }
    }

    /// The port the server listens on (the real one when configured with port 0).
    public var port: Int { boundPort.withLock { $0 } }

    /// Connections open right now.
    public var connectionCount: Int { lifecycle.count }

    public var isShuttingDown: Bool { lifecycle.isShuttingDown }

    /// Binds and listens, without accepting yet: connections wait in the backlog until
    /// `start()`. Lets a program report an unusable address at once, but serve only once it
    /// is ready to handle signals. Throws if the address cannot be used.
    public func bind() throws(HTTPServerError) {
        let alreadyBound = phase.withLock { phase -> Bool in
            if case .created = phase { return false }
            return true
        }
        guard !alreadyBound else { return }
        let listener = try ListeningSocket.bind(
            host: configuration.host, port: configuration.port, backlog: configuration.listenBacklog)
        let handle: EventLoop.Handle
        do {
            handle = try loop.register(listener.fd)
        } catch {
            close(listener.fd)
            throw .eventLoop(error)
        }
        boundPort.withLock { $0 = listener.port }
        phase.withLock { $0 = .bound(listener: listener, handle: handle) }
    }

    /// Begins accepting (binding first if `bind()` was not called). Throws if the address cannot be used.
    public func start() throws(HTTPServerError) {
        try bind()
        let bound = phase.withLock { phase -> (ListeningSocket, EventLoop.Handle)? in
            guard case .bound(let listener, let handle) = phase else { return nil }
            phase = .running(listener: listener, handle: handle)
            return (listener, handle)
        }
        guard let (listener, handle) = bound else { return }
        loop.start()
        Task { await self.acceptLoop(listener, handle) }
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(listener.port)"])
    }

    /// Returns once the server has stopped after `shutdown`.
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let alreadyStopped = phase.withLock { phase -> Bool in
                if case .stopped = phase { return true }
                stoppedWaiters.withLock { $0.append(continuation) }
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
    }

    /// Graceful shutdown: no new connections, idle ones closed now, busy ones closed
    /// after their current response or when `gracePeriod` ends, whichever is first.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        enum Step { case stopRunning(ListeningSocket, EventLoop.Handle), closeUnstarted(ListeningSocket?, EventLoop.Handle?), wait }
        let step = phase.withLock { phase -> Step in
            switch phase {
            case let .running(listener, handle):
                phase = .stopping
                return .stopRunning(listener, handle)
            case let .bound(listener, handle):
                phase = .stopped
                return .closeUnstarted(listener, handle)
            case .created:
                phase = .stopped
                return .closeUnstarted(nil, nil)
            case .stopping, .stopped:
                return .wait
            }
        }
        let listener: ListeningSocket
        let handle: EventLoop.Handle
        switch step {
        case .wait:
            await waitUntilStopped()
            return
        case let .closeUnstarted(unstarted, unstartedHandle):
            // Never accepted anything: no connections to wait for, no loop thread to stop.
            if let unstarted, let unstartedHandle {
                loop.deregister(unstartedHandle)
                close(unstarted.fd)
            }
            resumeStoppedWaiters()
            return
        case let .stopRunning(runningListener, runningHandle):
            listener = runningListener
            handle = runningHandle
        }
        logger.info("shutting down", metadata: ["connections": "\(lifecycle.count)"])
        loop.deregister(handle)
        close(listener.fd)
        lifecycle.beginShutdown()

        let deadline = MonotonicClock.deadline(after: gracePeriod)
        while lifecycle.count > 0 && MonotonicClock.now() < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        if lifecycle.count > 0 {
            logger.warning(
                "grace period over, closing connections still busy", metadata: ["connections": "\(lifecycle.count)"])
            lifecycle.forceCloseAll()
            // Handlers that ignore cancellation cannot hold the process hostage for long.
            let hardDeadline = MonotonicClock.deadline(after: .seconds(1))
            while lifecycle.count > 0 && MonotonicClock.now() < hardDeadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        loop.stop()
        phase.withLock { $0 = .stopped }
        resumeStoppedWaiters()
        logger.info("stopped")
    }

    private func resumeStoppedWaiters() {
        let waiters = stoppedWaiters.withLock { waiters in
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Accepting

    private func acceptLoop(_ listener: ListeningSocket, _ handle: EventLoop.Handle) async {
        while true {
            switch listener.accept() {
            case let .accepted(fd, peer):
                admit(fd: fd, peer: peer)
            case .wouldBlock:
                do {
                    try await loop.wait(handle, for: .read, deadline: nil)
                } catch {
                    return  // The listener was closed by shutdown.
                }
            case let .failed(error):
                // EMFILE and friends: back off briefly instead of spinning on a full process table.
                logger.warning("accept failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(50))
                if lifecycle.isShuttingDown { return }
            }
        }
    }

    private func admit(fd: Int32, peer: SocketAddress) {
        let handle: EventLoop.Handle
        do {
            handle = try loop.register(fd)
        } catch {
            close(fd)
            return
        }
        guard let id = lifecycle.admit(handle, limit: configuration.maxConnections) else {
            refuse(fd: fd, handle: handle, peer: peer)
            return
        }
        let socket = ConnectionSocket(handle: handle, loop: loop)
        socket.setNoDelay()
        let task = Task {
            if let transport = await self.transport(for: socket, peer: peer) {
                await HTTPConnection(
                    id: id, transport: transport, peer: peer, router: self.router, configuration: self.configuration,
                    lifecycle: self.lifecycle, logger: self.logger
                ).run()
            }
            self.loop.deregister(handle)
            close(fd)
            self.lifecycle.remove(id)
        }
        lifecycle.attach(task, to: id)
    }

    /// Over the connection cap (or shutting down): one non-blocking 503 attempt, then close,
    /// so a flood of connections costs us no memory and no descriptors.
    /// The connection's byte stream: TLS after a handshake that must finish within the header
    /// timeout (a client that stalls it is a slow-loris), or the plain socket. nil: give up.
    private func transport(for socket: ConnectionSocket, peer: SocketAddress) async -> StreamTransport? {
        guard let tls else { return StreamTransport(socket: socket, tls: nil) }
        do {
            let session = try TLSSession(context: tls, socket: socket)
            try await session.accept(deadline: MonotonicClock.deadline(after: configuration.headerTimeout))
            return StreamTransport(socket: socket, tls: session)
        } catch {
            logger.debug("TLS handshake failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return nil
        }
    }

    private func refuse(fd: Int32, handle: EventLoop.Handle, peer: SocketAddress) {
        logger.warning("connection refused: too many connections", metadata: ["peer": "\(peer)"])
        let bytes = ResponseSerializer.serialize(
            .text(.serviceUnavailable, "too many connections"), keepAlive: false,
            requestVersion: .http1_1, omitBody: false)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        loop.deregister(handle)
        close(fd)
    }
}
