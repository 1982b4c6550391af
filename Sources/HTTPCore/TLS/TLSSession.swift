import COpenSSL
import Glibc

/// One TLS session over a non-blocking socket, client or server side. OpenSSL reads and
/// writes the descriptor itself; when it answers WANT_READ or WANT_WRITE the task waits
/// on the event loop for that direction and retries, so handshakes never block a thread.
final class TLSSession: @unchecked Sendable {
    // Used by one task at a time: a connection belongs to one request (client) or one
    // connection task (server).
    private let ssl: OpaquePointer
    let socket: ConnectionSocket

    init(context: TLSContext, socket: ConnectionSocket) throws(SocketError) {
        guard let ssl = SSL_new(context.context) else { throw .tls(reason: "SSL_new: \(TLSContext.lastError())") }
        self.ssl = ssl
        self.socket = socket
        SSL_set_fd(ssl, socket.fd)
    }

    deinit { SSL_free(ssl) }

    /// Client handshake: SNI and host-name verification for `host`.
    func connect(host: String, origin: String, deadline: UInt64) async throws(HTTPClientError) {
        SSL_set_connect_state(ssl)
        if Self.isIPLiteral(host) {
            // SNI is for names only (RFC 6066 §3); an IP must match an IP SAN instead.
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            _ = copenssl_set_tlsext_host_name(ssl, host)
            SSL_set1_host(ssl, host)
        }
        do {
            _ = try await retrying(deadline: deadline) { SSL_do_handshake(ssl) }
        } catch .tls(let reason) {
            let verification = SSL_get_verify_result(ssl)
            if verification != X509_V_OK {
                throw .certificateRejected(origin: origin, reason: String(cString: X509_verify_cert_error_string(verification)))
            }
            throw .tlsFailed(origin: origin, reason: reason)
        } catch .timedOut {
            throw .timedOut(origin: origin, phase: .tlsHandshake)
        } catch {
            throw .connectionClosed(origin: origin, phase: .tlsHandshake)
        }
    }

    /// Server handshake, bounded by `deadline` (a client that never finishes it is a slow-loris).
    func accept(deadline: UInt64) async throws(SocketError) {
        SSL_set_accept_state(ssl)
        _ = try await retrying(deadline: deadline) { SSL_do_handshake(ssl) }
    }

    func receive(into buffer: ReadBuffer, deadline: UInt64?) async throws(SocketError) -> Int {
        let space = buffer.writableSpace()
        precondition(space.count > 0, "receive into a full buffer")
        let count = try await retrying(deadline: deadline) {
            SSL_read(ssl, space.baseAddress, Int32(clamping: space.count))
        }
        buffer.didWrite(Int(count))
        return Int(count)
    }

    func send(_ bytes: [UInt8], deadline: UInt64?) async throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let sent = try await retrying(deadline: deadline) {
                bytes.withUnsafeBytes { raw in
                    SSL_write(ssl, raw.baseAddress! + offset, Int32(clamping: raw.count - offset))
                }
            }
            offset += Int(sent)
        }
    }

    /// Sends close_notify if the socket takes it at once; never waits (the peer may be gone).
    func shutdown() {
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Runs an SSL call until it makes progress (> 0), waiting on the loop as OpenSSL asks.
    private func retrying(deadline: UInt64?, _ call: () -> Int32) async throws(SocketError) -> Int32 {
        while true {
            ERR_clear_error()
            let result = call()
            if result > 0 { return result }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ: try await socket.loop.wait(socket.handle, for: .read, deadline: deadline)
            case SSL_ERROR_WANT_WRITE: try await socket.loop.wait(socket.handle, for: .write, deadline: deadline)
            case SSL_ERROR_ZERO_RETURN: throw .endOfStream
            case SSL_ERROR_SYSCALL:
                let code = errno
                if ERR_peek_error() == 0 && (code == 0 || code == ECONNRESET || code == EPIPE) { throw .endOfStream }
                throw .tls(reason: "I/O error: \(TLSContext.lastError()) (errno \(code))")
            default:
                let reason = TLSContext.lastError()
                // OpenSSL 3 reports a close without close_notify as an SSL error; to HTTP it is an end of stream.
                if reason.contains("unexpected eof") { throw .endOfStream }
                throw .tls(reason: reason)
            }
        }
    }

    private static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
