/// Parses a stream of pipelined requests fed in arbitrary pieces, with its own buffer: the head
/// parser and body decoder the server uses, combined. For tests and the fuzzer.
///
/// The buffer holds at most the unconsumed tail of the last feed: an incomplete head (the head
/// parser bounds it) — body bytes are consumed as they are decoded.
public struct HTTPRequestStreamParser: Sendable {
    private var buffer: [UInt8] = []
    /// The first unconsumed byte of `buffer`.
    private var start = 0
    private var headParser: HTTPRequestHeadParser
    /// The request whose body is being decoded.
    private var pending: (head: HTTPRequestHead, decoder: HTTPBodyDecoder, body: [UInt8])?
    private var failure: HTTPParseError?
    private let limits: HTTPParserLimits
    private let maxBodyLength: Int

    public init(limits: HTTPParserLimits = .init(), maxBodyLength: Int = 1 << 20) {
        self.limits = limits
        self.maxBodyLength = maxBodyLength
        headParser = HTTPRequestHeadParser(limits: limits)
    }

    /// Adds bytes and returns the requests they completed, in order. After an error every call
    /// throws that error again (requests completed earlier in the failing call are dropped).
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(HTTPParseError) -> [HTTPRequest] {
        if let failure { throw failure }
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
        do {
            return try drain()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func drain() throws(HTTPParseError) -> [HTTPRequest] {
        var requests: [HTTPRequest] = []
        while true {
            if pending == nil {
                // A second reference to the storage (not a copy): the closure mutates self.headParser
                // while the bytes are borrowed, which must not overlap an access to self.buffer.
                let storage = buffer
                let parsed = try Self.withUnread(storage, from: start) { bytes throws(HTTPParseError) in
                    try headParser.parse(bytes)
                }
                guard let (head, consumed) = parsed else { return requests }
                start += consumed
                pending = (head, HTTPBodyDecoder(framing: head.framing, maxBodyLength: maxBodyLength, limits: limits), [])
            }
            var (head, decoder, body) = pending!
            pending = nil
            let storage = buffer
            let consumed = try Self.withUnread(storage, from: start) { bytes throws(HTTPParseError) in
                try decoder.decode(bytes, into: &body)
            }
            start += consumed
            guard decoder.isComplete else {
                pending = (head, decoder, body)
                return requests
            }
            requests.append(HTTPRequest(head: head, body: body))
        }
    }

    /// `Array.withUnsafeBytes` rethrows untyped errors; this keeps the error type.
    private static func withUnread<Result>(
        _ buffer: [UInt8], from start: Int,
        _ body: (UnsafeRawBufferPointer) throws(HTTPParseError) -> Result
    ) throws(HTTPParseError) -> Result {
        let outcome = buffer.withUnsafeBytes { raw in
            Swift.Result { () throws(HTTPParseError) in try body(UnsafeRawBufferPointer(rebasing: raw[start...])) }
        }
        return try outcome.get()
    }
}
