/// A request to send. The client adds Host, Content-Length and Connection itself.
public struct HTTPClientRequest: Sendable {
    public var method: HTTPMethod
    public var url: HTTPClientURL
    public var headers: HTTPHeaders
    public var body: Body

    /// What follows the head. Files are read in slices while they are sent, so an upload
    /// never holds a whole file in memory.
    public enum Body: Sendable {
        case empty
        case bytes([UInt8])
        case segments([BodySegment])

        /// The exact length, known before the first byte is sent (Content-Length).
        var length: Int {
            switch self {
            case .empty: return 0
            case .bytes(let bytes): return bytes.count
            case .segments(let segments): return segments.reduce(0) { $0 + $1.length }
            }
        }
    }

    public enum BodySegment: Sendable {
        case bytes([UInt8])
        /// A regular file of exactly `size` bytes; a file that changed size meanwhile fails the request.
        case file(path: String, size: Int)

        var length: Int {
            switch self {
            case .bytes(let bytes): return bytes.count
            case .file(_, let size): return size
            }
        }
    }

    public init(method: HTTPMethod, url: HTTPClientURL, headers: HTTPHeaders = [:], body: Body = .empty) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}
