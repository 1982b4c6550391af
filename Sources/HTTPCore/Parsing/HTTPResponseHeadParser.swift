/// How the body of a response is delimited (RFC 9112 §6.3).
enum ResponseFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
    /// No length given: the body ends when the server closes (never reusable).
    case untilClose
}

/// A response head (status line and fields) with what it means for reading the body.
struct ParsedResponseHead: Sendable {
    var head: HTTPClientResponseHead
    var framing: ResponseFraming
    /// Whether the connection may carry another request after this response.
    var keepAlive: Bool
}

struct HTTPResponseParseError: Error, Sendable, Equatable {
    let reason: String
}

/// Parses a response head once its blank line has arrived. The client reads responses in
/// large slices from a peer it chose to talk to, so, unlike the request parser, this one
/// only remembers how far it searched for the end of the head and then parses the
/// complete head in one pass. It is just as strict about syntax: CRLF line ends, no
/// obs-fold, token names, clean values, one consistent Content-Length.
struct HTTPResponseHeadParser: Sendable {
    private let maxHeadLength: Int
    private let maxHeaderCount: Int
    /// Bytes already searched for CRLFCRLF (minus 3, so a terminator split across reads is found).
    private var searched = 0

    init(maxHeadLength: Int, maxHeaderCount: Int) {
        self.maxHeadLength = maxHeadLength
        self.maxHeaderCount = maxHeaderCount
    }

    /// `bytes` starts at the response; returns nil until the head is complete. `requestMethod`
    /// decides framing: a response to HEAD never has a body.
    mutating func parse(_ bytes: UnsafeRawBufferPointer, requestMethod: HTTPMethod) throws(HTTPResponseParseError)
        -> (head: ParsedResponseHead, consumed: Int)?
    {
        if bytes.count < searched { searched = 0 }
        let limit = min(bytes.count, maxHeadLength)
        var index = max(0, searched - 3)
        while index + 3 < limit {
            if bytes[index] == .cr && bytes[index + 1] == .lf && bytes[index + 2] == .cr && bytes[index + 3] == .lf {
                searched = 0
                let head = try Self.parseHead(
                    UnsafeRawBufferPointer(rebasing: bytes[0..<(index + 2)]), requestMethod: requestMethod,
                    maxHeaderCount: maxHeaderCount)
                return (head, index + 4)
            }
            index += 1
        }
        searched = limit
        if bytes.count >= maxHeadLength {
            throw HTTPResponseParseError(reason: "response head longer than \(maxHeadLength) bytes")
        }
        return nil
    }

    /// `head` holds the status line and the fields, each line ending in CRLF.
    private static func parseHead(_ head: UnsafeRawBufferPointer, requestMethod: HTTPMethod, maxHeaderCount: Int)
        throws(HTTPResponseParseError) -> ParsedResponseHead
    {
        var lines: [UnsafeRawBufferPointer] = []
        var lineStart = 0
        while lineStart < head.count {
            let lineEnd = HTTPSyntax.firstLineBreak(in: head, from: lineStart, to: head.count)
            guard lineEnd + 1 < head.count, head[lineEnd] == .cr, head[lineEnd + 1] == .lf else {
                throw HTTPResponseParseError(reason: "bare CR or LF in response head")
            }
            lines.append(UnsafeRawBufferPointer(rebasing: head[lineStart..<lineEnd]))
            lineStart = lineEnd + 2
        }
        guard let statusLine = lines.first else { throw HTTPResponseParseError(reason: "empty response head") }
        let (version, status, reason) = try parseStatusLine(statusLine)
        guard lines.count - 1 <= maxHeaderCount else {
            throw HTTPResponseParseError(reason: "more than \(maxHeaderCount) header fields")
        }

        var headers = HTTPHeaders()
        var fields = FieldFacts()
        for line in lines.dropFirst() {
            guard !line.isEmpty, !HTTPSyntax.isWhitespace(line[0]) else {
                throw HTTPResponseParseError(reason: "obsolete line folding in response head")
            }
            var colon = 0
            while colon < line.count && HTTPSyntax.isTokenCharacter(line[colon]) { colon += 1 }
            guard colon > 0, colon < line.count, line[colon] == .colon else {
                throw HTTPResponseParseError(reason: "invalid header field name")
            }
            let value = HTTPSyntax.trimmingWhitespace(line, colon + 1, line.count)
            guard value.allSatisfy(HTTPSyntax.isFieldValueCharacter) else {
                throw HTTPResponseParseError(reason: "invalid character in header field value")
            }
            let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
            try fields.record(name: name, value: value)
            headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }

        let framing = try fields.framing(status: status, requestMethod: requestMethod)
        let persistent = version == .http1_1 ? !fields.connectionClose : fields.connectionKeepAlive && !fields.connectionClose
        return ParsedResponseHead(
            head: HTTPClientResponseHead(status: status, reasonPhrase: reason, version: version, headers: headers),
            framing: framing, keepAlive: persistent && framing != .untilClose)
    }

    /// `HTTP/1.x SP 3DIGIT SP [reason]` (RFC 9112 §4); the reason phrase may be empty.
    private static func parseStatusLine(_ line: UnsafeRawBufferPointer) throws(HTTPResponseParseError)
        -> (HTTPVersion, Int, String)
    {
        guard line.count >= 12, HTTPSyntax.equals(UnsafeRawBufferPointer(rebasing: line[0..<7]), "HTTP/1."),
            HTTPSyntax.isDigit(line[7]), line[8] == .space,
            HTTPSyntax.isDigit(line[9]), HTTPSyntax.isDigit(line[10]), HTTPSyntax.isDigit(line[11]),
            line.count == 12 || line[12] == .space
        else {
            throw HTTPResponseParseError(reason: "malformed status line")
        }
        let version: HTTPVersion = line[7] == UInt8(ascii: "0") ? .http1_0 : .http1_1
        let status = Int(line[9] &- 48) * 100 + Int(line[10] &- 48) * 10 + Int(line[11] &- 48)
        guard status >= 100 else { throw HTTPResponseParseError(reason: "status code below 100") }
        let reasonBytes = line.count > 13 ? UnsafeRawBufferPointer(rebasing: line[13...]) : UnsafeRawBufferPointer(start: nil, count: 0)
        guard reasonBytes.allSatisfy(HTTPSyntax.isFieldValueCharacter) else {
            throw HTTPResponseParseError(reason: "invalid character in reason phrase")
        }
        return (version, status, String(decoding: reasonBytes, as: UTF8.self))
    }

    /// What the fields say about framing and persistence.
    private struct FieldFacts {
        var contentLength: Int?
        var transferEncoding: [UnsafeRawBufferPointer] = []
        var hasTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false

        mutating func record(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTPResponseParseError) {
            if HTTPSyntax.equalsIgnoringCase(name, "content-length") {
                var failure: HTTPResponseParseError?
                HTTPSyntax.forEachListElement(value) { element in
                    guard failure == nil else { return }
                    guard !element.isEmpty, element.count <= 18, element.allSatisfy(HTTPSyntax.isDigit) else {
                        failure = HTTPResponseParseError(reason: "invalid Content-Length")
                        return
                    }
                    let length = element.reduce(0) { $0 * 10 + Int($1 &- 48) }
                    if let known = contentLength, known != length {
                        failure = HTTPResponseParseError(reason: "conflicting Content-Length values")
                    }
                    contentLength = length
                }
                if let failure { throw failure }
            } else if HTTPSyntax.equalsIgnoringCase(name, "transfer-encoding") {
                hasTransferEncoding = true
                HTTPSyntax.forEachListElement(value) { if !$0.isEmpty { transferEncoding.append($0) } }
            } else if HTTPSyntax.equalsIgnoringCase(name, "connection") {
                HTTPSyntax.forEachListElement(value) { option in
                    if HTTPSyntax.equalsIgnoringCase(option, "close") { connectionClose = true }
                    if HTTPSyntax.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
                }
            }
        }

        func framing(status: Int, requestMethod: HTTPMethod) throws(HTTPResponseParseError) -> ResponseFraming {
            if requestMethod == .HEAD || (100..<200).contains(status) || status == 204 || status == 304 {
                return .none
            }
            if hasTransferEncoding {
                // Both framings at once is how responses are smuggled: refuse rather than guess.
                if contentLength != nil {
                    throw HTTPResponseParseError(reason: "both Content-Length and Transfer-Encoding")
                }
                guard let last = transferEncoding.last, HTTPSyntax.equalsIgnoringCase(last, "chunked") else {
                    return .untilClose
                }
                guard transferEncoding.count == 1 else {
                    throw HTTPResponseParseError(reason: "unsupported transfer coding")
                }
                return .chunked
            }
            if let contentLength { return .contentLength(contentLength) }
            return .untilClose
        }
    }
}
