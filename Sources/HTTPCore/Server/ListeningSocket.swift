import CLinux
import Glibc

/// A bound, listening, non-blocking TCP socket.
struct ListeningSocket: Sendable {
    let fd: Int32
    /// The port actually bound (useful when asked for port 0).
    let port: Int

    /// Resolves `host` (a numeric address or a name) and binds the first address that works.
    static func bind(host: String, port: Int, backlog: Int32) throws(HTTPServerError) -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .cannotResolve(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        var lastError: HTTPServerError = .cannotResolve(host: host, reason: "no usable address")
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                lastError = .cannotBind(host: host, port: port, error: .system(call: "socket", errno: errno))
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
                lastError = .cannotBind(host: host, port: port, error: .system(call: "bind", errno: errno))
                close(fd)
                continue
            }
            if listen(fd, backlog) != 0 {
                lastError = .cannotBind(host: host, port: port, error: .system(call: "listen", errno: errno))
                close(fd)
                continue
            }
            return ListeningSocket(fd: fd, port: Self.boundPort(of: fd) ?? port)
        }
        throw lastError
    }

    private static func boundPort(of fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return SocketAddress(storage).port
    }

    enum AcceptResult {
        case accepted(fd: Int32, peer: SocketAddress)
        case wouldBlock
        /// A transient failure for this one connection (it reset before we took it, fd limit...).
        case failed(SocketError)
    }

    func accept() -> AcceptResult {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                accept4(self.fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
        }
        if fd >= 0 { return .accepted(fd: fd, peer: SocketAddress(storage)) }
        switch errno {
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        default: return .failed(.system(call: "accept4", errno: errno))
        }
    }
}

/// A peer's address, kept only for logs.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(_ storage: sockaddr_storage) {
        var storage = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            }
            var inAddr = address.sin_addr
            inet_ntop(AF_INET, &inAddr, &buffer, socklen_t(buffer.count))
            host = Self.string(fromCString: buffer)
            port = Int(UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            }
            var in6Addr = address.sin6_addr
            inet_ntop(AF_INET6, &in6Addr, &buffer, socklen_t(buffer.count))
            host = Self.string(fromCString: buffer)
            port = Int(UInt16(bigEndian: address.sin6_port))
        default:
            host = "unknown"
            port = 0
        }
    }

    private static func string(fromCString buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// 127.0.0.0/8, ::1, or an IPv4-mapped loopback address: a peer on this machine (or in this
    /// container). A reverse proxy in front of the bot is not one.
    public var isLoopback: Bool {
        host.hasPrefix("127.") || host == "::1" || host.lowercased().hasPrefix("::ffff:127.")
    }
}
