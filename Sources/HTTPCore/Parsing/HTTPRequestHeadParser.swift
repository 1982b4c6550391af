/// Incremental parser for the request line and header section (RFC 9112 §2–§5).
///
/// The caller passes all buffered, unconsumed input each time; the parser remembers how far
/// it scanned and which lines it already parsed, so every byte is examined once however the
/// input is split. Errors are decided in byte order — each line is checked as soon as its CRLF
/// arrives, and a limit is exceeded at one exact byte position — so the outcome (head or
/// status) does not depend on the split either.
///
/// Limits: the head (from the first byte, including skipped leading empty lines, through the
/// blank line's CRLF) may be at most `maxHeadLength` bytes; bytes beyond that are never
/// examined and mean 431. The request line (without its CRLF) may be at most
/// `maxRequestLineLength` bytes, else 414.
public struct HTTPRequestHeadParser: Sendable {
    private let maxRequestLineLength: Int
    private let maxHeadLength: Int
    private let maxHeaderCount: Int

    /// The next byte to examine.
    private var scanned = 0
    /// The first byte of the line being scanned.
    private var lineStart = 0
    /// Set once the request line has been parsed; nil while still looking for it.
    private var requestLine: RequestLine?
    private var headers = HTTPHeaders()
    private var semantics = HTTPHeadSemantics()

    private struct RequestLine: Sendable {
        var method: HTTPMethod
        var target: String
        var path: String
        var query: String?
        var version: HTTPVersion
    }

    public init(limits: HTTPParserLimits = .init()) {
        maxRequestLineLength = max(0, limits.maxRequestLineLength)
        maxHeadLength = max(0, limits.maxHeadLength)
        maxHeaderCount = max(0, limits.maxHeaderCount)
    }

    public mutating func reset() {
        scanned = 0
        lineStart = 0
        requestLine = nil
        headers = HTTPHeaders()
        semantics = HTTPHeadSemantics()
    }

    /// `bytes` is all buffered, unconsumed input starting where the current request starts.
    /// Called again with a longer buffer (same prefix) as more bytes arrive. Returns nil while the
    /// head is incomplete and within limits; returns the head and the number of bytes it occupied
    /// (through the blank line) once complete, and resets itself for the next request.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (head: HTTPRequestHead, consumed: Int)?
    {
        // A shorter buffer cannot be a continuation of the previous call: start over rather than
        // read out of bounds.
        if bytes.count < scanned { reset() }
        if bytes.isEmpty { return nil }
        // Bytes at or past maxHeadLength can never belong to an acceptable head.
        let window = min(bytes.count, maxHeadLength)
        let windowIsFull = bytes.count >= maxHeadLength

        while true {
            // While looking for the request line, a CR may sit at most maxRequestLineLength bytes
            // after the line's start; a byte past that without a line break means 414.
            var searchEnd = window
            var requestLineBounded = false
            if requestLine == nil && maxRequestLineLength < window - lineStart {
                searchEnd = lineStart + maxRequestLineLength + 1
                requestLineBounded = true
            }

            let lineEnd = HTTPSyntax.firstLineBreak(in: bytes, from: scanned, to: searchEnd)
            if lineEnd == searchEnd {
                scanned = lineEnd
                if requestLineBounded { throw HTTPParseError(.uriTooLong, "request line too long") }
                if windowIsFull { throw HTTPParseError(.requestHeaderFieldsTooLarge, "request head too large") }
                return nil
            }
            if bytes[lineEnd] == .lf { throw HTTPParseError(.badRequest, "bare LF in request head") }
            guard lineEnd + 1 < window else {
                // The CR's LF has not arrived (look again next time), or would lie past the limit.
                scanned = lineEnd
                if windowIsFull { throw HTTPParseError(.requestHeaderFieldsTooLarge, "request head too large") }
                return nil
            }
            guard bytes[lineEnd + 1] == .lf else { throw HTTPParseError(.badRequest, "bare CR in request head") }

            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            let next = lineEnd + 2
            scanned = next
            lineStart = next

            if let requestLine {
                if line.isEmpty {
                    let head = try semantics.makeHead(
                        method: requestLine.method, target: requestLine.target, path: requestLine.path,
                        query: requestLine.query, version: requestLine.version, headers: headers)
                    reset()
                    return (head, next)
                }
                try parseField(line)
            } else if !line.isEmpty {
                // Empty lines before the request line are skipped (RFC 9112 §2.2).
                requestLine = try Self.parseRequestLine(line)
            }
        }
    }

    // MARK: - Request line

    /// `method SP request-target SP HTTP-version`, single spaces. Checked in this order:
    /// method characters, target characters (400), version (400 / 505), method known (501),
    /// target form (400).
    private static func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> RequestLine {
        guard let firstSpace = line.firstIndex(of: .space),
            let secondSpace = line[(firstSpace + 1)...].firstIndex(of: .space)
        else {
            throw HTTPParseError(.badRequest, "malformed request line")
        }
        let methodBytes = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
        let targetBytes = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)..<secondSpace])
        let versionBytes = UnsafeRawBufferPointer(rebasing: line[(secondSpace + 1)...])

        guard !methodBytes.isEmpty, methodBytes.allSatisfy(HTTPSyntax.isTokenCharacter) else {
            throw HTTPParseError(.badRequest, "invalid method")
        }
        guard !targetBytes.isEmpty, targetBytes.allSatisfy(HTTPSyntax.isVisibleASCII) else {
            throw HTTPParseError(.badRequest, "invalid request target")
        }
        let version = try parseVersion(versionBytes)
        guard let method = knownMethod(methodBytes) else {
            throw HTTPParseError(.notImplemented, "method not implemented")
        }

        if targetBytes[0] == .slash {
            return makeRequestLine(method, version, origin: targetBytes)
        }
        if targetBytes.count == 1 && targetBytes[0] == UInt8(ascii: "*") {
            guard method == .OPTIONS else { throw HTTPParseError(.badRequest, "asterisk-form target without OPTIONS") }
            return RequestLine(method: method, target: "*", path: "*", query: nil, version: version)
        }
        // absolute-form: "http" / "https" "://" authority [ path-abempty ] [ "?" query ].
        let schemeLength: Int
        if targetBytes.count >= 7, HTTPSyntax.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: targetBytes[0..<7]), "http://") {
            schemeLength = 7
        } else if targetBytes.count >= 8,
            HTTPSyntax.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: targetBytes[0..<8]), "https://")
        {
            schemeLength = 8
        } else {
            throw HTTPParseError(.badRequest, "invalid request target")
        }
        var authorityEnd = schemeLength
        while authorityEnd < targetBytes.count && targetBytes[authorityEnd] != .slash
            && targetBytes[authorityEnd] != .question
        {
            // userinfo in an http(s) URI is an error (RFC 9110 §4.2.4).
            if targetBytes[authorityEnd] == UInt8(ascii: "@") {
                throw HTTPParseError(.badRequest, "userinfo in request target")
            }
            authorityEnd += 1
        }
        guard authorityEnd > schemeLength else { throw HTTPParseError(.badRequest, "empty authority in request target") }
        let rest = UnsafeRawBufferPointer(rebasing: targetBytes[authorityEnd...])
        if rest.first == .slash { return makeRequestLine(method, version, origin: rest) }
        // Empty path: the target is "/" plus the query, if any.
        let query: String? = rest.isEmpty ? nil : String(decoding: rest.dropFirst(), as: UTF8.self)
        let target = query.map { "/?" + $0 } ?? "/"
        return RequestLine(method: method, target: target, path: "/", query: query, version: version)
    }

    /// `target` starts with "/"; path and query split at the first "?".
    private static func makeRequestLine(_ method: HTTPMethod, _ version: HTTPVersion, origin target: UnsafeRawBufferPointer)
        -> RequestLine
    {
        let text = String(decoding: target, as: UTF8.self)
        guard let question = target.firstIndex(of: .question) else {
            return RequestLine(method: method, target: text, path: text, query: nil, version: version)
        }
        return RequestLine(
            method: method, target: text,
            path: String(decoding: target[..<question], as: UTF8.self),
            query: String(decoding: target[(question + 1)...], as: UTF8.self), version: version)
    }

    /// Methods are case-sensitive (RFC 9110 §9.1).
    private static func knownMethod(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod? {
        switch bytes.count {
        case 3:
            if HTTPSyntax.equals(bytes, "GET") { return .GET }
            if HTTPSyntax.equals(bytes, "PUT") { return .PUT }
        case 4:
            if HTTPSyntax.equals(bytes, "POST") { return .POST }
            if HTTPSyntax.equals(bytes, "HEAD") { return .HEAD }
        case 5:
            if HTTPSyntax.equals(bytes, "PATCH") { return .PATCH }
        case 6:
            if HTTPSyntax.equals(bytes, "DELETE") { return .DELETE }
        case 7:
            if HTTPSyntax.equals(bytes, "OPTIONS") { return .OPTIONS }
        default:
            break
        }
        return nil
    }

    /// `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive. 1.0 and 1.1 are served, 1.x (x > 1)
    /// is answered as 1.1 (RFC 9110 §6.2), majors 2–9 get 505, anything else (incl. 0.x) 400.
    private static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, HTTPSyntax.equals(UnsafeRawBufferPointer(rebasing: bytes[0..<5]), "HTTP/"),
            bytes[6] == UInt8(ascii: "."), HTTPSyntax.isDigit(bytes[5]), HTTPSyntax.isDigit(bytes[7])
        else {
            throw HTTPParseError(.badRequest, "invalid HTTP version")
        }
        switch bytes[5] {
        case UInt8(ascii: "1"): return bytes[7] == UInt8(ascii: "0") ? .http1_0 : .http1_1
        case UInt8(ascii: "0"): throw HTTPParseError(.badRequest, "invalid HTTP version")
        default: throw HTTPParseError(.httpVersionNotSupported, "HTTP version not supported")
        }
    }

    // MARK: - Header fields

    /// `field-name ":" OWS field-value OWS` (RFC 9112 §5). Values are decoded as UTF-8 with
    /// invalid sequences repaired (U+FFFD): obs-text is rare and opaque to this server, which
    /// never reflects header values; ASCII values — nearly all — decode unchanged.
    private mutating func parseField(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) {
        if HTTPSyntax.isWhitespace(line[0]) {
            throw HTTPParseError(.badRequest, "obsolete line folding")
        }
        var colon = 0
        while colon < line.count && HTTPSyntax.isTokenCharacter(line[colon]) { colon += 1 }
        guard colon > 0, colon < line.count, line[colon] == .colon else {
            // Also catches whitespace between the name and the colon (RFC 9112 §5.1).
            throw HTTPParseError(.badRequest, "invalid header field name")
        }
        let value = HTTPSyntax.trimmingWhitespace(line, colon + 1, line.count)
        guard value.allSatisfy(HTTPSyntax.isFieldValueCharacter) else {
            throw HTTPParseError(.badRequest, "invalid character in header field value")
        }
        guard headers.count < maxHeaderCount else {
            throw HTTPParseError(.requestHeaderFieldsTooLarge, "too many header fields")
        }
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        semantics.record(name: name, value: value)
        headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }
}
