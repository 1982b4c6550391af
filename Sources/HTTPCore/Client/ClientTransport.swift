import Glibc

/// The byte stream under a client connection: plain TCP, or TLS over TCP.
final class ClientTransport: @unchecked Sendable {
    // Owned by one request at a time (see ConnectionPool); never used concurrently.
    private let socket: ConnectionSocket
    private let tls: TLSSession?

    init(socket: ConnectionSocket, tls: TLSSession?) {
        self.socket = socket
        self.tls = tls
    }

    func receive(into buffer: ReadBuffer, deadline: UInt64?) async throws(SocketError) -> Int {
        if let tls { return try await tls.receive(into: buffer, deadline: deadline) }
        return try await socket.receive(into: buffer, deadline: deadline)
    }

    func send(_ bytes: [UInt8], deadline: UInt64?) async throws(SocketError) {
        if let tls {
            try await tls.send(bytes, deadline: deadline)
        } else {
            try await socket.send(bytes, deadline: deadline)
        }
    }

    /// Whether the peer has closed (or sent unexpected bytes on) an idle connection: such a
    /// connection must not be reused. A non-blocking peek, never a wait.
    var looksClosed: Bool {
        var byte: UInt8 = 0
        let result = recv(socket.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if result == 0 { return true }
        // Bytes while idle: for TLS possibly a session ticket (fine); for plain HTTP a protocol error.
        if result > 0 { return tls == nil }
        return errno != EAGAIN && errno != EWOULDBLOCK
    }

    /// Fails the current and every later wait on this connection: a cancelled request
    /// must not sit out a long poll. Safe to call from any thread.
    func cancel() {
        socket.loop.cancel(socket.handle, with: .closed)
    }

    func close() {
        tls?.shutdown()
        socket.closeAndDeregister()
    }
}
