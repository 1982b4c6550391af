import CLinux
import Glibc

/// A connected, non-blocking socket whose reads and writes suspend on the event loop
/// instead of blocking a thread.
struct ConnectionSocket: Sendable {
    let handle: EventLoop.Handle
    let loop: EventLoop

    var fd: Int32 { handle.fd }

    /// Receives what is available into `buffer`, waiting until the deadline if nothing is.
    /// Returns the number of bytes added; throws `.endOfStream` when the peer has closed.
    func receive(into buffer: ReadBuffer, deadline: UInt64?) async throws(SocketError) -> Int {
        while true {
            let space = buffer.writableSpace()
            precondition(space.count > 0, "receive into a full buffer")
            let received = recv(fd, space.baseAddress, space.count, 0)
            if received > 0 {
                buffer.didWrite(received)
                return received
            }
            if received == 0 { throw .endOfStream }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try await loop.wait(handle, for: .read, deadline: deadline)
            case EINTR: continue
            case ECONNRESET, EPIPE: throw .endOfStream
            case let code: throw .system(call: "recv", errno: code)
            }
        }
    }

    /// Sends every byte, waiting for the socket to drain as needed.
    func send(_ bytes: [UInt8], deadline: UInt64?) async throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent >= 0 {
                offset += sent
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try await loop.wait(handle, for: .write, deadline: deadline)
            case EINTR: continue
            case ECONNRESET, EPIPE: throw .endOfStream
            case let code: throw .system(call: "send", errno: code)
            }
        }
    }

    func setNoDelay() {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
