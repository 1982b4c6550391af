import Logging

/// What a handler knows about where a request came from.
public struct RequestContext: Sendable {
    /// The TCP peer. Behind a proxy this is the proxy; it is kept for logs only.
    public let peer: SocketAddress
    public let logger: Logger
    /// When the whole request (head and body) had been read: where a handler's latency starts.
    public let receivedAt: ContinuousClock.Instant

    public init(peer: SocketAddress, logger: Logger, receivedAt: ContinuousClock.Instant = .now) {
        self.peer = peer
        self.logger = logger
        self.receivedAt = receivedAt
    }
}
