/// Maps method + exact path to an async handler. Exact paths are all this server
/// needs (a webhook, health checks); a tree router would be code nobody reads.
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse

    public struct Route: Sendable {
        public let method: HTTPMethod
        public let path: String
        /// The largest body this route accepts; larger requests get 413 before the body is read.
        public let maxBodyLength: Int
        public let handler: Handler
    }

    public enum Match: Sendable {
        case found(Route)
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    private var routes: [String: [HTTPMethod: Route]] = [:]
    /// Body limit for routes that do not set one, and for requests that match no route
    /// (their body is still read so that the connection can be kept).
    public var defaultMaxBodyLength: Int

    public init(defaultMaxBodyLength: Int = 1 << 20) {
        self.defaultMaxBodyLength = defaultMaxBodyLength
    }

    public mutating func add(
        _ method: HTTPMethod, _ path: String, maxBodyLength: Int? = nil,
        handler: @escaping Handler
    ) {
        routes[path, default: [:]][method] = Route(
            method: method, path: path, maxBodyLength: maxBodyLength ?? defaultMaxBodyLength,
            handler: handler)
    }

    public func match(_ method: HTTPMethod, _ path: String) -> Match {
        guard let methods = routes[path] else { return .notFound }
        if let route = methods[method] { return .found(route) }
        // HEAD is GET without a body (RFC 9110 §9.3.2); the server drops the body.
        if method == .HEAD, let route = methods[.GET] { return .found(route) }
        var allowed = Array(methods.keys)
        if methods[.GET] != nil { allowed.append(.HEAD) }
        return .methodNotAllowed(allowed: allowed.sorted { $0.rawValue < $1.rawValue })
    }
}
