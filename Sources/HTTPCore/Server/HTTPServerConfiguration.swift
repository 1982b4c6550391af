/// Everything that bounds what a client can make the server do. Defaults are the
/// product's safe limits; tests shrink them to exercise each one quickly.
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var parserLimits = HTTPParserLimits()
    /// Open connections at most; one more is answered 503 and closed at once.
    public var maxConnections = 1024
    public var listenBacklog: Int32 = 1024
    /// From the first byte of a request to the end of its headers (slow-loris).
    public var headerTimeout: Duration = .seconds(10)
    /// A body may start slowly for this long...
    public var bodyGracePeriod: Duration = .seconds(10)
    /// ...after which it must average at least this many bytes per second.
    public var minimumBodyBytesPerSecond = 4096
    /// A kept-alive connection with no request in this long is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// Each wait for the socket to accept more of a response.
    public var writeTimeout: Duration = .seconds(10)
    /// Bytes read from the socket at a time; also the slack above the head limit in the read buffer.
    public var readChunkSize = 16 * 1024
    /// Serve HTTPS with this certificate chain and key (PEM); nil: plain HTTP (TLS ends at a proxy).
    /// The handshake must finish within `headerTimeout`.
    public var tls: TLSFiles?

    public init(host: String = "0.0.0.0", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// PEM files of a TLS server: the certificate chain (leaf first) and its private key.
public struct TLSFiles: Sendable, Hashable {
    public var certificateChainPath: String
    public var privateKeyPath: String

    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}
