import CLinux
import Glibc

/// The byte stream of a connection, client or server side: plain TCP, or TLS over TCP.
final class StreamTransport: @unchecked Sendable {
    // Owned by one task at a time (a pooled client connection, or a server connection task).
    private let socket: ConnectionSocket
    private let tls: TLSSession?

    init(socket: ConnectionSocket, tls: TLSSession?) {
        self.socket = socket
        self.tls = tls
    }

    var fd: Int32 { socket.fd }

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

    /// Ends our direction (close_notify first for TLS) while still reading: a lingering close.
    func shutdownWrite() {
        tls?.shutdown()
        Glibc.shutdown(socket.fd, Int32(SHUT_WR))
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

    /// Closes the connection (client side; the server closes its descriptors itself).
    func close() {
        tls?.shutdown()
        socket.closeAndDeregister()
    }
}
