import Glibc
import Logging

/// One client connection, served as straight-line code: read a request, call its
/// handler, write the response, repeat while the connection may be kept alive.
/// Pipelined requests simply wait in the read buffer, so responses go out in order.
struct HTTPConnection {
    let id: Int
    let transport: StreamTransport
    let peer: SocketAddress
    let router: Router
    let configuration: HTTPServerConfiguration
    let lifecycle: ConnectionLifecycle
    let logger: Logger

    /// How one request/response exchange ended.
    private enum Outcome {
        case keepOpen
        case close
    }

    func run() async {
        let buffer = ReadBuffer(
            capacity: configuration.parserLimits.maxHeadLength + configuration.readChunkSize)
        var headParser = HTTPRequestHeadParser(limits: configuration.parserLimits)
        while true {
            do {
                guard try await waitForRequestStart(buffer) else { return }
                switch try await exchange(buffer, &headParser) {
                case .keepOpen: continue
                case .close: return
                }
            } catch let error as HTTPParseError {
                logger.debug(
                    "rejected malformed request",
                    metadata: ["peer": "\(peer)", "status": "\(error.status.code)", "reason": "\(error.reason)"])
                await sendFinal(.text(error.status, error.reason))
                return
            } catch SocketError.timedOut {
                logger.debug("request timed out", metadata: ["peer": "\(peer)"])
                await sendFinal(.text(.requestTimeout, "request not received in time"))
                return
            } catch {
                logger.trace("connection ended", metadata: ["peer": "\(peer)", "reason": "\(error)"])
                return
            }
        }
    }

    /// Waits, as an idle connection, for the first byte of the next request.
    /// Returns false when the connection should just be closed (idle timeout, peer left, shutdown).
    private func waitForRequestStart(_ buffer: ReadBuffer) async throws -> Bool {
        if !buffer.isEmpty { return true }
        guard lifecycle.markIdle(id) else { return false }
        defer { lifecycle.markBusy(id) }
        do {
            _ = try await transport.receive(
                into: buffer, deadline: MonotonicClock.deadline(after: configuration.idleTimeout))
            return true
        } catch {
            // Closing an idle connection is normal: no response is owed.
            return false
        }
    }

    private func exchange(_ buffer: ReadBuffer, _ headParser: inout HTTPRequestHeadParser) async throws -> Outcome {
        let head = try await readHead(buffer, &headParser)
        let match = router.match(head.method, head.path)
        let maxBody: Int
        if case .found(let route) = match {
            maxBody = route.maxBodyLength
        } else {
            maxBody = router.defaultMaxBodyLength
        }
        let body = try await readBody(of: head, limit: maxBody, buffer)
        let receivedAt = ContinuousClock.now
        let request = HTTPRequest(head: head, body: body)

        var response: HTTPResponse
        switch match {
        case .found(let route):
            do {
                response = try await route.handler(request, RequestContext(peer: peer, logger: logger, receivedAt: receivedAt))
            } catch {
                logger.error(
                    "handler failed", metadata: ["path": "\(head.path)", "error": "\(error)"])
                response = .text(.internalServerError, "internal error")
            }
        case .methodNotAllowed(let allowed):
            response = .text(.methodNotAllowed, "method not allowed")
            response.headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
        case .notFound:
            response = .text(.notFound, "not found")
        }

        let keepAlive = head.keepAlive && !lifecycle.isShuttingDown
        let bytes = ResponseSerializer.serialize(
            response, keepAlive: keepAlive, requestVersion: head.version, omitBody: head.method == .HEAD)
        try await transport.send(bytes, deadline: MonotonicClock.deadline(after: configuration.writeTimeout))
        return keepAlive ? .keepOpen : .close
    }

    private func readHead(_ buffer: ReadBuffer, _ parser: inout HTTPRequestHeadParser) async throws -> HTTPRequestHead {
        let deadline = MonotonicClock.deadline(after: configuration.headerTimeout)
        while true {
            if let (head, consumed) = try parser.parse(buffer.unread) {
                buffer.consume(consumed)
                return head
            }
            if buffer.isFull {
                // The parser bounds the head below the buffer's size, so this means a bug, not a client.
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "request head too large")
            }
            _ = try await transport.receive(into: buffer, deadline: deadline)
        }
    }

    private func readBody(of head: HTTPRequestHead, limit: Int, _ buffer: ReadBuffer) async throws -> [UInt8] {
        var decoder = HTTPBodyDecoder(framing: head.framing, maxBodyLength: limit, limits: configuration.parserLimits)
        var body: [UInt8] = []
        if case .contentLength(let length) = head.framing, length <= limit {
            body.reserveCapacity(length)
        }
        // The first call checks a declared length against the limit before we invite the body.
        buffer.consume(try decoder.decode(buffer.unread, into: &body))
        if decoder.isComplete { return body }

        if head.expectsContinue && head.version == .http1_1 && buffer.isEmpty {
            try await transport.send(
                ResponseSerializer.continueLine,
                deadline: MonotonicClock.deadline(after: configuration.writeTimeout))
        }

        // Slow clients get a grace period, then must keep an average minimum rate.
        let start = MonotonicClock.now()
        let grace = configuration.bodyGracePeriod.nanoseconds
        let nanosecondsPerByte = 1_000_000_000 / UInt64(max(1, configuration.minimumBodyBytesPerSecond))
        var received: UInt64 = 0
        while !decoder.isComplete {
            if buffer.isFull {
                throw HTTPParseError(.badRequest, "chunk metadata too long")
            }
            let deadline = start &+ grace &+ received &* nanosecondsPerByte
            received &+= UInt64(try await transport.receive(into: buffer, deadline: deadline))
            buffer.consume(try decoder.decode(buffer.unread, into: &body))
        }
        return body
    }

    /// Best-effort last response before closing: the client may already be gone.
    private func sendFinal(_ response: HTTPResponse) async {
        let bytes = ResponseSerializer.serialize(
            response, keepAlive: false, requestVersion: .http1_1, omitBody: false)
        let deadline = MonotonicClock.deadline(after: .seconds(1))
        guard (try? await transport.send(bytes, deadline: deadline)) != nil else { return }
        // Closing with unread input makes the kernel send RST, which can destroy the response
        // before the client reads it. Half-close and drain briefly instead (a "lingering close").
        transport.shutdownWrite()
        let drain = ReadBuffer(capacity: 4096)
        var drained = 0
        while drained < 64 * 1024, let count = try? await transport.receive(into: drain, deadline: deadline) {
            drained += count
            drain.consume(count)
        }
    }
}
