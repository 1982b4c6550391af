/// Why a request could not be parsed, and the status the client gets for it.
/// After any parse error the server answers with `status` and closes the connection.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: HTTPStatus
    /// A short, operator-facing explanation (also sent as the plain-text response body).
    public let reason: String

    public init(_ status: HTTPStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status.code) \(reason)" }
}
