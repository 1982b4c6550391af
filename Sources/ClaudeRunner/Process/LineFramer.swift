/// Splits the CLI's stdout into newline-delimited records (stream-json is one JSON
/// object per line). Lines can be several megabytes (a tool result with a whole file),
/// so bytes are accumulated without copying per chunk; a line longer than
/// `maxLineLength` is an error rather than unbounded memory.
public struct LineFramer: Sendable {
    public struct LineTooLong: Error, Sendable, CustomStringConvertible {
        public let limit: Int
        public var description: String { "an output line exceeded \(limit) bytes" }
    }

    public let maxLineLength: Int
    private var pending: [UInt8] = []
    /// How much of `pending` is known to contain no newline, so each byte is scanned once.
    private var scanned = 0

    public init(maxLineLength: Int = 64 << 20) {
        self.maxLineLength = maxLineLength
    }

    /// Adds a chunk and returns the complete lines it finished, without their line endings
    /// (a trailing CR is dropped too). Empty lines are skipped.
    public mutating func append(_ chunk: some Sequence<UInt8>) throws(LineTooLong) -> [[UInt8]] {
        pending.append(contentsOf: chunk)
        var lines: [[UInt8]] = []
        var start = 0
        var index = scanned
        while let newline = pending[index...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start && pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end > start { lines.append(Array(pending[start..<end])) }
            start = newline + 1
            index = start
        }
        if start > 0 { pending.removeFirst(start) }
        scanned = pending.count
        if pending.count > maxLineLength { throw LineTooLong(limit: maxLineLength) }
        return lines
    }

    /// The unterminated last line, if the stream ended without a newline.
    public mutating func finish() -> [UInt8]? {
        defer {
            pending = []
            scanned = 0
        }
        return pending.isEmpty ? nil : pending
    }
}
