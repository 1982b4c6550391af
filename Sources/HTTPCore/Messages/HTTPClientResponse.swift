/// Status line and header fields of a response.
public struct HTTPClientResponseHead: Sendable {
    public var status: Int
    public var reasonPhrase: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
}

/// A response with its whole body (bounded by the client's `maxResponseBodyLength`).
public struct HTTPClientResponse: Sendable {
    public var head: HTTPClientResponseHead
    public var body: [UInt8]

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }
}
