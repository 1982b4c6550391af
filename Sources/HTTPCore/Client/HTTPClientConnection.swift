import Glibc

/// One keep-alive connection to an origin, used for one exchange at a time: write the
/// request, read the response head, stream the body to a sink.
final class HTTPClientConnection: @unchecked Sendable {
    // Owned by one request at a time (ConnectionPool hands it out exclusively).
    let origin: HTTPClientURL.Origin
    private let transport: StreamTransport
    private let buffer: ReadBuffer
    private var headParser: HTTPResponseHeadParser
    private let configuration: HTTPClientConfiguration
    /// Exchanges completed on this connection; a reused connection may have been closed by the peer meanwhile.
    private(set) var completedExchanges = 0
    private(set) var idleSince: UInt64 = 0

    /// Why an exchange failed. `stale`: a reused connection failed before any byte of a response
    /// came back, so the server cannot have acted on the request and it may be sent again.
    enum Failure: Error {
        case stale(HTTPClientError)
        case failed(HTTPClientError)

        var error: HTTPClientError {
            switch self {
            case .stale(let error), .failed(let error): return error
            }
        }
    }

    private static let sliceSize = 64 * 1024

    static func open(
        origin: HTTPClientURL.Origin, loop: EventLoop, tls: TLSContext?, configuration: HTTPClientConfiguration
    ) async throws(HTTPClientError) -> HTTPClientConnection {
        let socket = try await TCPConnector.connect(
            host: origin.host, port: origin.port, loop: loop, timeout: configuration.connectTimeout)
        var session: TLSSession?
        if origin.scheme == .https, let tls {
            do throws(HTTPClientError) {
                let tlsSession: TLSSession
                do {
                    tlsSession = try TLSSession(context: tls, socket: socket)
                } catch {
                    throw HTTPClientError.tlsFailed(origin: origin.description, reason: "\(error)")
                }
                try await tlsSession.connect(
                    host: origin.host, origin: origin.description,
                    deadline: MonotonicClock.deadline(after: configuration.tlsHandshakeTimeout))
                session = tlsSession
            } catch {
                socket.closeAndDeregister()
                throw error
            }
        }
        return HTTPClientConnection(
            origin: origin, transport: StreamTransport(socket: socket, tls: session), configuration: configuration)
    }

    private init(origin: HTTPClientURL.Origin, transport: StreamTransport, configuration: HTTPClientConfiguration) {
        self.origin = origin
        self.transport = transport
        self.configuration = configuration
        buffer = ReadBuffer(capacity: configuration.maxResponseHeadLength + 16 * 1024)
        headParser = HTTPResponseHeadParser(
            maxHeadLength: configuration.maxResponseHeadLength, maxHeaderCount: configuration.maxResponseHeaderCount)
    }

    /// Whether this idle connection can carry another request.
    func isReusable(now: UInt64) -> Bool {
        // Saturating: an idleSince after `now` is fresh, not a wrapped-around eternity.
        let idle = now > idleSince ? now - idleSince : 0
        return idle < configuration.idleConnectionTimeout.nanoseconds && !transport.looksClosed
    }

    func close() { transport.close() }

    /// See `StreamTransport.cancel()`.
    func cancel() { transport.cancel() }

    /// Sends `request`, reads the response and hands its body to `sink` in slices of at most
    /// 64 KiB, up to `maxBodyLength` bytes. Returns the head and whether the connection may be reused.
    func exchange(
        _ request: HTTPClientRequest, responseTimeout: Duration, maxBodyLength: Int,
        sink: (HTTPClientResponseHead, [UInt8]) throws(HTTPClientError) -> Void
    ) async throws(Failure) -> (head: HTTPClientResponseHead, reusable: Bool) {
        let reused = completedExchanges > 0
        var receivedResponseBytes = false
        func failure(_ error: SocketError, _ phase: HTTPClientError.Phase) -> Failure {
            let mapped = map(error, phase)
            return reused && !receivedResponseBytes && error != .timedOut ? .stale(mapped) : .failed(mapped)
        }

        do {
            try await send(request)
        } catch {
            switch error {
            case .socket(let socketError): throw failure(socketError, .request)
            case .client(let clientError): throw .failed(clientError)
            }
        }

        let responseDeadline = MonotonicClock.deadline(after: responseTimeout)
        var parsed: ParsedResponseHead
        while true {
            do {
                if let (head, consumed) = try headParser.parse(buffer.unread, requestMethod: request.method) {
                    buffer.consume(consumed)
                    parsed = head
                    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
                    if (100..<200).contains(head.head.status) && head.head.status != 101 { continue }
                    break
                }
            } catch {
                throw .failed(.malformedResponse(origin: origin.description, reason: error.reason))
            }
            do {
                _ = try await transport.receive(into: buffer, deadline: responseDeadline)
                receivedResponseBytes = true
            } catch {
                throw failure(error, .responseHead)
            }
        }
        if parsed.head.status == 101 {
            throw .failed(.malformedResponse(origin: origin.description, reason: "unexpected protocol switch"))
        }

        do {
            try await readBody(parsed, maxBodyLength: maxBodyLength) { slice throws(HTTPClientError) in
                try sink(parsed.head, slice)
            }
        } catch {
            throw .failed(error)
        }
        completedExchanges += 1
        idleSince = MonotonicClock.now()
        return (parsed.head, parsed.keepAlive && buffer.isEmpty)
    }

    // MARK: Request

    private enum SendError: Error {
        case socket(SocketError)
        case client(HTTPClientError)
    }

    private func send(_ request: HTTPClientRequest) async throws(SendError) {
        var head = "\(request.method.rawValue) \(request.url.target) HTTP/1.1\r\nHost: \(origin.authority)\r\n"
        for (name, value) in request.headers {
            // Our own callers build these, but a CR or LF here would let a value forge headers.
            guard Self.isValidHeader(name: name, value: value) else {
                throw .client(.invalidRequest("invalid header field \(name)"))
            }
            head += "\(name): \(value)\r\n"
        }
        let length = request.body.length
        if length > 0 || [.POST, .PUT, .PATCH].contains(request.method) {
            head += "Content-Length: \(length)\r\n"
        }
        head += "\r\n"
        let deadline = { MonotonicClock.deadline(after: self.configuration.writeTimeout) }
        switch request.body {
        case .empty:
            try await sendBytes(Array(head.utf8), deadline: deadline())
        case .bytes(let bytes):
            // One write for head and body: no extra round trip for small JSON requests.
            try await sendBytes(Array(head.utf8) + bytes, deadline: deadline())
        case .segments(let segments):
            try await sendBytes(Array(head.utf8), deadline: deadline())
            for segment in segments {
                switch segment {
                case .bytes(let bytes): try await sendBytes(bytes, deadline: deadline())
                case .file(let path, let size): try await sendFile(path, size: size, deadline: deadline)
                }
            }
        }
    }

    private func sendBytes(_ bytes: [UInt8], deadline: UInt64) async throws(SendError) {
        do {
            try await transport.send(bytes, deadline: deadline)
        } catch {
            throw .socket(error)
        }
    }

    /// Streams a file in slices: memory stays at one slice whatever the file's size.
    private func sendFile(_ path: String, size: Int, deadline: () -> UInt64) async throws(SendError) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .client(.fileError(path: path, reason: String(cString: strerror(errno)))) }
        defer { Glibc.close(fd) }
        var slice = [UInt8](repeating: 0, count: Self.sliceSize)
        var sent = 0
        while sent < size {
            let wanted = min(slice.count, size - sent)
            let count = slice.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, wanted) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                // The Content-Length is already on the wire: this request cannot be completed.
                let reason = count < 0 ? String(cString: strerror(errno)) : "shorter than the \(size) bytes announced"
                throw .client(.fileError(path: path, reason: reason))
            }
            try await sendBytes(Array(slice[0..<count]), deadline: deadline())
            sent += count
        }
    }

    private static func isValidHeader(name: String, value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(HTTPSyntax.isTokenCharacter)
            && value.utf8.allSatisfy(HTTPSyntax.isFieldValueCharacter)
    }

    // MARK: Response body

    private func readBody(
        _ parsed: ParsedResponseHead, maxBodyLength: Int, deliver: ([UInt8]) throws(HTTPClientError) -> Void
    ) async throws(HTTPClientError) {
        let framing: BodyFraming
        switch parsed.framing {
        case .none: return
        case .untilClose: return try await readUntilClose(maxBodyLength: maxBodyLength, deliver: deliver)
        case .contentLength(let length):
            guard length <= maxBodyLength else { throw .responseTooLarge(origin: origin.description, limit: maxBodyLength) }
            framing = .contentLength(length)
        case .chunked: framing = .chunked
        }
        var decoder = HTTPBodyDecoder(framing: framing, maxBodyLength: maxBodyLength)
        var pending: [UInt8] = []
        pending.reserveCapacity(min(Self.sliceSize, maxBodyLength))
        while true {
            do {
                buffer.consume(try decoder.decode(buffer.unread, into: &pending))
            } catch {
                if error.status == .contentTooLarge { throw .responseTooLarge(origin: origin.description, limit: maxBodyLength) }
                throw .malformedResponse(origin: origin.description, reason: error.reason)
            }
            if pending.count >= Self.sliceSize || (decoder.isComplete && !pending.isEmpty) {
                try deliver(pending)
                pending.removeAll(keepingCapacity: true)
            }
            if decoder.isComplete { return }
            do {
                _ = try await transport.receive(
                    into: buffer, deadline: MonotonicClock.deadline(after: configuration.bodyReadTimeout))
            } catch {
                throw map(error, .responseBody)
            }
        }
    }

    private func readUntilClose(maxBodyLength: Int, deliver: ([UInt8]) throws(HTTPClientError) -> Void)
        async throws(HTTPClientError)
    {
        var total = 0
        while true {
            if !buffer.isEmpty {
                total += buffer.unreadCount
                guard total <= maxBodyLength else { throw .responseTooLarge(origin: origin.description, limit: maxBodyLength) }
                try deliver(Array(buffer.unread))
                buffer.consume(buffer.unreadCount)
            }
            do {
                _ = try await transport.receive(
                    into: buffer, deadline: MonotonicClock.deadline(after: configuration.bodyReadTimeout))
            } catch .endOfStream {
                return
            } catch {
                throw map(error, .responseBody)
            }
        }
    }

    private func map(_ error: SocketError, _ phase: HTTPClientError.Phase) -> HTTPClientError {
        switch error {
        case .timedOut: return .timedOut(origin: origin.description, phase: phase)
        case .endOfStream, .closed: return .connectionClosed(origin: origin.description, phase: phase)
        case .tls(let reason): return .tlsFailed(origin: origin.description, reason: reason)
        case .system:
            return .connectionClosed(origin: origin.description, phase: phase)
        }
    }
}
