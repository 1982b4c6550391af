import Glibc

/// Why a socket operation did not complete.
public enum SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The deadline for this wait passed (slow client, idle connection).
    case timedOut
    /// The server closed the connection (shutdown, or the loop stopped).
    case closed
    /// The peer closed its side before we had what we needed.
    case endOfStream
    /// A system call failed.
    case system(call: String, errno: Int32)
    /// The TLS layer failed (OpenSSL's reason), e.g. a bad record or a failed handshake.
    case tls(reason: String)

    public var description: String {
        switch self {
        case .timedOut: return "timed out"
        case .closed: return "closed by the server"
        case .endOfStream: return "connection closed by the peer"
        case let .system(call, code): return "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .tls(reason): return "TLS: \(reason)"
        }
    }
}
