/// Bounds the parser enforces so that no client can make the server hold
/// unbounded memory. Defaults follow the product's safe limits.
public struct HTTPParserLimits: Sendable, Hashable {
    /// Longest request line (method, target, version) before 414.
    public var maxRequestLineLength: Int = 8 * 1024
    /// Request line plus all header fields, before 431.
    public var maxHeadLength: Int = 16 * 1024
    /// Number of header fields, before 431.
    public var maxHeaderCount: Int = 100
    /// Chunk extensions and trailer section of a chunked body, before 400/431.
    public var maxChunkMetadataLength: Int = 4 * 1024

    public init() {}
}
