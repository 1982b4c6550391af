/// Why the server could not start.
public enum HTTPServerError: Error, Sendable, CustomStringConvertible {
    case cannotResolve(host: String, reason: String)
    case cannotBind(host: String, port: Int, error: SocketError)
    case eventLoop(SocketError)
    /// The TLS certificate or key could not be used; the reason names the file.
    case tls(String)

    public var description: String {
        switch self {
        case let .cannotResolve(host, reason): return "cannot resolve listen host \"\(host)\": \(reason)"
        case let .cannotBind(host, port, error): return "cannot listen on \(host):\(port): \(error)"
        case let .eventLoop(error): return "cannot start the event loop: \(error)"
        case let .tls(reason): return "cannot serve HTTPS: \(reason)"
        }
    }
}
