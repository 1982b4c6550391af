/// Bounds and timeouts of the client. Defaults suit the Bot API: small JSON answers,
/// long polls that last up to a minute, downloads up to 20 MB.
public struct HTTPClientConfiguration: Sendable {
    /// TCP connect, per address tried.
    public var connectTimeout: Duration = .seconds(10)
    public var tlsHandshakeTimeout: Duration = .seconds(10)
    /// Each wait for the socket to accept more of the request.
    public var writeTimeout: Duration = .seconds(30)
    /// From the request sent to the end of the response head. A long poll's own timeout
    /// must stay below this; requests can override it (`execute(_:responseTimeout:)`).
    public var responseTimeout: Duration = .seconds(30)
    /// Longest silence while the body is arriving.
    public var bodyReadTimeout: Duration = .seconds(30)
    public var maxResponseHeadLength = 64 * 1024
    public var maxResponseHeaderCount = 200
    /// Bodies held in memory; downloads to a file have their own limit per call.
    public var maxResponseBodyLength = 8 * 1024 * 1024
    /// Open connections per origin; further requests wait for one to come free.
    public var maxConnectionsPerOrigin = 8
    /// An idle pooled connection older than this is closed instead of reused.
    public var idleConnectionTimeout: Duration = .seconds(50)
    /// PEM file of trusted CA certificates in place of the system trust store (tests,
    /// private CAs). nil: the system store.
    public var trustedCAFile: String?

    public init() {}
}
