/// What the header fields mean for handling the request: body framing (the part request
/// smuggling attacks), persistence and expectations (RFC 9112 §6, §9.3; RFC 9110 §7.2, §10.1.1).
///
/// Facts are recorded field by field from the raw bytes as each line is parsed; the decision
/// is taken once the head is complete, in a fixed order, so the outcome depends only on the
/// head's bytes and never on how they were split:
/// Host (400) → framing (400 / 501 / 413 / 411) → Expect (417).
struct HTTPHeadSemantics: Sendable {
    private var hostCount = 0

    private var hasContentLength = false
    private var contentLength = 0
    private var hasParsedLength = false
    /// The first problem found in a Content-Length field (400 malformed or conflicting, 413 huge).
    private var contentLengthError: HTTPParseError?

    private var hasTransferEncoding = false
    private var transferCodingCount = 0
    private var firstCodingIsPlainChunked = false
    private var transferEncodingMalformed = false

    private var connectionClose = false
    private var connectionKeepAlive = false

    private var hasExpect = false
    private var unsupportedExpectation = false

    /// Notes what a field contributes. `name` is a valid token, `value` is trimmed and valid.
    mutating func record(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        switch name.count {
        case 4 where HTTPSyntax.equalsIgnoringCase(name, "host"):
            hostCount += 1
        case 6 where HTTPSyntax.equalsIgnoringCase(name, "expect"):
            recordExpect(value)
        case 10 where HTTPSyntax.equalsIgnoringCase(name, "connection"):
            HTTPSyntax.forEachListElement(value) { option in
                if HTTPSyntax.equalsIgnoringCase(option, "close") { connectionClose = true }
                if HTTPSyntax.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
            }
        case 14 where HTTPSyntax.equalsIgnoringCase(name, "content-length"):
            recordContentLength(value)
        case 17 where HTTPSyntax.equalsIgnoringCase(name, "transfer-encoding"):
            recordTransferEncoding(value)
        default:
            break
        }
    }

    /// `Content-Length = 1*DIGIT`; a list (or several fields) of identical values counts as one
    /// (RFC 9112 §6.3 item 5). Signs, spaces inside, empty elements → 400. More than 18
    /// significant digits (≥ 10^18, beyond any body we accept, and near Int overflow) → 413.
    private mutating func recordContentLength(_ value: UnsafeRawBufferPointer) {
        hasContentLength = true
        guard contentLengthError == nil else { return }
        HTTPSyntax.forEachListElement(value) { element in
            guard contentLengthError == nil else { return }
            guard !element.isEmpty, element.allSatisfy(HTTPSyntax.isDigit) else {
                contentLengthError = HTTPParseError(.badRequest, "invalid Content-Length")
                return
            }
            let significant = element.drop { $0 == UInt8(ascii: "0") }
            guard significant.count <= 18 else {
                contentLengthError = HTTPParseError(.contentTooLarge, "Content-Length too large")
                return
            }
            var length = 0
            for digit in significant { length = length * 10 + Int(digit &- UInt8(ascii: "0")) }
            if hasParsedLength && length != contentLength {
                contentLengthError = HTTPParseError(.badRequest, "conflicting Content-Length values")
                return
            }
            contentLength = length
            hasParsedLength = true
        }
    }

    /// `transfer-coding = token *( OWS ";" OWS transfer-parameter )`, all fields combined.
    /// Only a single, parameterless `chunked` is supported.
    private mutating func recordTransferEncoding(_ value: UnsafeRawBufferPointer) {
        hasTransferEncoding = true
        HTTPSyntax.forEachListElement(value) { element in
            var nameEnd = 0
            while nameEnd < element.count && HTTPSyntax.isTokenCharacter(element[nameEnd]) { nameEnd += 1 }
            guard nameEnd > 0 else {
                transferEncodingMalformed = true  // empty element or not starting with a token
                return
            }
            var rest = nameEnd
            while rest < element.count && HTTPSyntax.isWhitespace(element[rest]) { rest += 1 }
            let hasParameters = rest < element.count
            if hasParameters && element[rest] != .semicolon {
                transferEncodingMalformed = true
                return
            }
            transferCodingCount += 1
            if transferCodingCount == 1 {
                let name = UnsafeRawBufferPointer(rebasing: element[0..<nameEnd])
                firstCodingIsPlainChunked = !hasParameters && HTTPSyntax.equalsIgnoringCase(name, "chunked")
            }
        }
    }

    /// Only `100-continue` (case-insensitive) is a known expectation; anything else → 417.
    private mutating func recordExpect(_ value: UnsafeRawBufferPointer) {
        hasExpect = true
        // An empty value yields one empty element, which is not 100-continue either.
        HTTPSyntax.forEachListElement(value) { element in
            if !HTTPSyntax.equalsIgnoringCase(element, "100-continue") { unsupportedExpectation = true }
        }
    }

    func makeHead(
        method: HTTPMethod, target: String, path: String, query: String?, version: HTTPVersion,
        headers: HTTPHeaders
    ) throws(HTTPParseError) -> HTTPRequestHead {
        switch (version, hostCount) {
        case (.http1_1, 0): throw HTTPParseError(.badRequest, "missing Host header")
        case (_, 2...): throw HTTPParseError(.badRequest, "more than one Host header")
        default: break
        }

        let framing = try self.framing(method: method, version: version)

        if hasExpect && unsupportedExpectation {
            throw HTTPParseError(.expectationFailed, "unsupported expectation")
        }

        let keepAlive: Bool
        switch version {
        case .http1_1: keepAlive = !connectionClose
        case .http1_0: keepAlive = connectionKeepAlive && !connectionClose
        }

        return HTTPRequestHead(
            method: method, target: target, path: path, query: query, version: version, headers: headers,
            framing: framing, keepAlive: keepAlive, expectsContinue: hasExpect)
    }

    private func framing(method: HTTPMethod, version: HTTPVersion) throws(HTTPParseError) -> BodyFraming {
        if hasTransferEncoding {
            if hasContentLength {
                throw HTTPParseError(.badRequest, "both Content-Length and Transfer-Encoding")
            }
            if version == .http1_0 {
                throw HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request")
            }
            if transferEncodingMalformed || transferCodingCount == 0 {
                throw HTTPParseError(.badRequest, "malformed Transfer-Encoding")
            }
            guard transferCodingCount == 1 && firstCodingIsPlainChunked else {
                throw HTTPParseError(.notImplemented, "only the chunked transfer coding is supported")
            }
            return .chunked
        }
        if hasContentLength {
            if let contentLengthError { throw contentLengthError }
            return .contentLength(contentLength)
        }
        switch method {
        case .POST, .PUT, .PATCH: throw HTTPParseError(.lengthRequired, "Content-Length required")
        default: return .none
        }
    }
}
