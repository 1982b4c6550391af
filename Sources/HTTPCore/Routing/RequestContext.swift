import Logging

/// What a handler knows about where a request came from.
public struct RequestContext: Sendable {
    /// The TCP peer. Behind a proxy this is the proxy; it is kept for logs only.
    public let peer: SocketAddress
    public let logger: Logger
}
