/// Why a request got no response. Each case says which step failed and carries what an
/// operator needs to act on it; none carries request content (URLs may embed a token, so
/// only the origin is kept).
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Phase: String, Sendable {
        case connect, tlsHandshake = "TLS handshake", request = "sending the request"
        case responseHead = "waiting for the response", responseBody = "reading the response body"
    }

    case invalidURL(String, String)
    /// The request itself cannot be sent as given (e.g. a header value with a line break).
    case invalidRequest(String)
    /// The host name did not resolve.
    case nameResolution(host: String, reason: String)
    /// Every address of the host refused or failed.
    case connectFailed(origin: String, reason: String)
    case timedOut(origin: String, phase: Phase)
    /// The certificate chain or host name did not verify.
    case certificateRejected(origin: String, reason: String)
    case tlsFailed(origin: String, reason: String)
    /// The peer closed or reset the connection before the response was complete.
    case connectionClosed(origin: String, phase: Phase)
    case malformedResponse(origin: String, reason: String)
    case responseTooLarge(origin: String, limit: Int)
    /// A file of the request body or of a download could not be read or written.
    case fileError(path: String, reason: String)
    case shutDown
    /// The task that made the request was cancelled; its connection was closed.
    case cancelled

    public var description: String {
        switch self {
        case let .invalidURL(url, reason): return "invalid URL \(Self.redacted(url)): \(reason)"
        case let .invalidRequest(reason): return "invalid request: \(reason)"
        case let .nameResolution(host, reason): return "cannot resolve \(host): \(reason)"
        case let .connectFailed(origin, reason): return "cannot connect to \(origin): \(reason)"
        case let .timedOut(origin, phase): return "\(origin): timed out \(phase.rawValue)"
        case let .certificateRejected(origin, reason): return "\(origin): certificate rejected: \(reason)"
        case let .tlsFailed(origin, reason): return "\(origin): TLS failed: \(reason)"
        case let .connectionClosed(origin, phase): return "\(origin): connection closed while \(phase.rawValue)"
        case let .malformedResponse(origin, reason): return "\(origin): malformed response: \(reason)"
        case let .responseTooLarge(origin, limit): return "\(origin): response larger than \(limit) bytes"
        case let .fileError(path, reason): return "file \(path): \(reason)"
        case .shutDown: return "the HTTP client has been shut down"
        case .cancelled: return "the request was cancelled"
        }
    }

    /// Whether sending the same request again may succeed (a transient network fault).
    public var isTransient: Bool {
        switch self {
        case .nameResolution, .connectFailed, .timedOut, .connectionClosed, .tlsFailed: return true
        default: return false
        }
    }

    /// An invalid URL is shown without its path: the Bot API puts the token there.
    private static func redacted(_ url: String) -> String {
        guard let separator = HTTPClientURL.schemeSeparator(in: url) else { return "(not shown)" }
        let rest = url[url.index(separator, offsetBy: 3)...]
        let host = rest.prefix { $0 != "/" && $0 != "?" }
        return url[..<separator] + "://" + host + (rest.count > host.count ? "/…" : "")
    }
}
