import HTTPCore
import Testing

/// Valid requests: what they parse to, and that no split of the input changes it.
@Suite struct HTTPValidRequestTests {
    struct Sample: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        var testDescription: String { name }

        init(_ name: String, _ text: String) {
            self.name = name
            bytes = Array(text.utf8)
        }

        init(_ name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    static let samples: [Sample] = [
        Sample("GET with query", "GET /search?q=swift&lang=en HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n"),
        Sample(
            "POST with Content-Length",
            "POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"text\":\"hi\"}"),
        Sample(
            "chunked with extensions and trailers",
            "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n6;a ; b = \"q\\\"x;y\" ;c=d\r\n world\r\nA\r\n0123456789\r\n0;last\r\n"
                + "X-Checksum: abc\r\nX-Other:1\r\n\r\n"),
        Sample(
            "pipelined",
            "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                + "PUT /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
                + "DELETE /four?x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        Sample("HTTP/1.0 without keep-alive", "GET /old HTTP/1.0\r\n\r\n"),
        Sample("HTTP/1.0 with keep-alive", "GET /old HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n"),
        Sample("leading CRLFs", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Sample("absolute-form", "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
        Sample("absolute-form, empty path", "HEAD HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        Sample("absolute-form, query only", "GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        Sample("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
        Sample("Connection close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n"),
        Sample(
            "Expect 100-continue",
            "PATCH /p HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok"),
        Sample("HTTP/1.9 served as 1.1", "GET / HTTP/1.9\r\nHost: x\r\n\r\n"),
        Sample(
            "OWS, empty values, identical Content-Lengths",
            "POST / HTTP/1.1\r\nHost: x\r\nX-A: \t spaced  value \t\r\nX-Empty:\r\nX-Blank:   \r\n"
                + "Content-Length: 3, 3\r\ncontent-length: 03\r\n\r\nabc"),
        Sample(
            "obs-text and UTF-8 values",
            bytes: Array("GET / HTTP/1.1\r\nHost: x\r\nX-Latin: caf".utf8) + [0xE9]
                + Array("\r\nX-Utf8: café\r\n\r\n".utf8)),
        Sample("empty chunked body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"),
        Sample("GET with a body", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]

    private func parseWhole(_ sample: Sample) throws -> [HTTPRequest] {
        var parser = HTTPRequestStreamParser()
        return try parser.feed(sample.bytes)
    }

    private func only(_ text: String) throws -> HTTPRequest {
        var parser = HTTPRequestStreamParser()
        let requests = try parser.feed(Array(text.utf8))
        try #require(requests.count == 1)
        return requests[0]
    }

    // MARK: - Parsed values

    @Test func getWithQuery() throws {
        let request = try only("GET /search?q=swift&lang=en HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n")
        #expect(request.head.method == .GET)
        #expect(request.head.target == "/search?q=swift&lang=en")
        #expect(request.head.path == "/search")
        #expect(request.head.query == "q=swift&lang=en")
        #expect(request.head.version == .http1_1)
        #expect(request.head.headers["host"] == "example.com")
        #expect(request.head.headers.count == 2)
        #expect(request.head.framing == BodyFraming.none)
        #expect(request.head.keepAlive)
        #expect(!request.head.expectsContinue)
        #expect(request.body.isEmpty)
    }

    @Test func emptyQueryIsPresentButEmpty() throws {
        let request = try only("GET /a? HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(request.head.path == "/a")
        #expect(request.head.query == "")
    }

    @Test func postWithContentLength() throws {
        let request = try parseWhole(Self.samples[1])[0]
        #expect(request.head.method == .POST)
        #expect(request.head.framing == .contentLength(13))
        #expect(request.body == Array("{\"text\":\"hi\"}".utf8))
    }

    @Test func chunkedWithExtensionsAndTrailers() throws {
        let request = try parseWhole(Self.samples[2])[0]
        #expect(request.head.framing == .chunked)
        #expect(String(decoding: request.body, as: UTF8.self) == "hello world0123456789")
        // Trailers are validated, not merged into the head.
        #expect(request.head.headers["X-Checksum"] == nil)
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let requests = try parseWhole(Self.samples[3])
        #expect(requests.map(\.head.path) == ["/one", "/two", "/three", "/four"])
        #expect(requests.map(\.body) == [[], Array("abc".utf8), Array("xy".utf8), []])
        #expect(requests.map(\.head.keepAlive) == [true, true, true, false])
    }

    @Test func http10KeepAlive() throws {
        let plain = try parseWhole(Self.samples[4])[0]
        #expect(plain.head.version == .http1_0)
        #expect(!plain.head.keepAlive)
        let kept = try parseWhole(Self.samples[5])[0]
        #expect(kept.head.keepAlive)
    }

    @Test func leadingEmptyLinesAreSkippedAndConsumed() throws {
        var parser = HTTPRequestHeadParser()
        let bytes = Array("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT".utf8)
        let result = try bytes.withUnsafeBytes { try parser.parse($0) }
        let (head, consumed) = try #require(result)
        #expect(head.path == "/")
        #expect(consumed == bytes.count - 4)
    }

    @Test func absoluteFormIsReducedToPathAndQuery() throws {
        let full = try only("GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        #expect(full.head.target == "/a/b?c=d")
        #expect(full.head.path == "/a/b")
        #expect(full.head.query == "c=d")
        let bare = try only("HEAD HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(bare.head.target == "/")
        #expect(bare.head.path == "/")
        #expect(bare.head.query == nil)
        let query = try only("GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(query.head.target == "/?x=1")
        #expect(query.head.path == "/")
        #expect(query.head.query == "x=1")
    }

    @Test func optionsAsterisk() throws {
        let request = try only("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(request.head.method == .OPTIONS)
        #expect(request.head.target == "*")
        #expect(request.head.path == "*")
    }

    @Test func connectionAndExpectTokens() throws {
        #expect(try !only("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n").head.keepAlive)
        #expect(try !only("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").head.keepAlive)
        #expect(try only("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n").head.keepAlive)
        let expect = try parseWhole(Self.samples[12])[0]
        #expect(expect.head.expectsContinue)
        #expect(expect.body == Array("ok".utf8))
    }

    @Test func minorVersionAboveOneIsServedAsOneOne() throws {
        #expect(try only("GET / HTTP/1.9\r\nHost: x\r\n\r\n").head.version == .http1_1)
    }

    @Test func fieldValuesAreTrimmedAndDecoded() throws {
        let request = try parseWhole(Self.samples[14])[0]
        #expect(request.head.headers["x-a"] == "spaced  value")
        #expect(request.head.headers["X-Empty"] == "")
        #expect(request.head.headers["X-Blank"] == "")
        #expect(request.head.framing == .contentLength(3))
        let text = try parseWhole(Self.samples[15])[0]
        // obs-text is decoded as UTF-8 with repair: a lone Latin-1 byte becomes U+FFFD.
        #expect(text.head.headers["X-Latin"] == "caf\u{FFFD}")
        #expect(text.head.headers["X-Utf8"] == "café")
    }

    @Test func headParserStopsAtTheBlankLine() throws {
        var parser = HTTPRequestHeadParser()
        let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\n\r".utf8)
        let result = try bytes.withUnsafeBytes { try parser.parse($0) }
        #expect(result?.consumed == bytes.count - 9)
        // It reset itself: the rest is parsed as a new request (and rejected).
        let rest = Array(bytes[(bytes.count - 9)...])
        #expect(throws: HTTPParseError.self) { try rest.withUnsafeBytes { try parser.parse($0) } }
    }

    @Test func headParserWaitsForMoreInput() throws {
        var parser = HTTPRequestHeadParser()
        let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r".utf8)
        for end in 0...bytes.count {
            let prefix = Array(bytes[..<end])
            #expect(try prefix.withUnsafeBytes { try parser.parse($0) } == nil)
        }
        let full = bytes + [UInt8(ascii: "\n")]
        #expect(try full.withUnsafeBytes { try parser.parse($0) }?.consumed == full.count)
    }

    @Test func contentLengthAboveTheMaximumFailsBeforeAnyBodyByte() {
        var decoder = HTTPBodyDecoder(framing: .contentLength(11), maxBodyLength: 10)
        var body: [UInt8] = []
        #expect(!decoder.isComplete)
        #expect(throws: HTTPParseError(.contentTooLarge, "request body too large")) {
            try [UInt8]().withUnsafeBytes { try decoder.decode($0, into: &body) }
        }
    }

    @Test func bodyDecoderNeverConsumesTheNextRequest() throws {
        var decoder = HTTPBodyDecoder(framing: .chunked, maxBodyLength: 100)
        var body: [UInt8] = []
        let bytes = Array("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n".utf8)
        let consumed = try bytes.withUnsafeBytes { try decoder.decode($0, into: &body) }
        #expect(consumed == 13)
        #expect(decoder.isComplete)
        #expect(body == Array("abc".utf8))
        #expect(HTTPBodyDecoder(framing: .none, maxBodyLength: 0).isComplete)
        #expect(HTTPBodyDecoder(framing: .contentLength(0), maxBodyLength: 0).isComplete)
    }

    // MARK: - Split invariance

    @Test(arguments: samples) func everyTwoWaySplitGivesTheSameResult(_ sample: Sample) {
        let expected = ParserHarness.whole(sample.bytes)
        guard case .requests(let requests, incomplete: false) = expected, !requests.isEmpty else {
            Issue.record("sample does not parse completely: \(expected)")
            return
        }
        for cut in 1..<sample.bytes.count {
            let outcome = ParserHarness.outcome(sample.bytes, cuts: [cut])
            #expect(outcome == expected, "cut at \(cut)")
            if outcome != expected { return }
        }
        #expect(ParserHarness.byteAtATime(sample.bytes) == expected)
    }

    @Test func randomSplitsOfTheWholeCorpusGiveTheSameResult() {
        let stream = Self.samples.flatMap(\.bytes)
        let expected = ParserHarness.whole(stream)
        guard case .requests(let requests, incomplete: false) = expected else {
            Issue.record("corpus does not parse: \(expected)")
            return
        }
        #expect(requests.count == 22)
        var generator = SplitMix64(seed: 0x5EED_0001)
        for round in 0..<400 {
            let cuts = ParserHarness.randomCuts(stream.count, using: &generator)
            let outcome = ParserHarness.outcome(stream, cuts: cuts)
            #expect(outcome == expected, "round \(round), cuts \(cuts)")
            if outcome != expected { return }
        }
    }

    @Test(arguments: samples) func randomSplitsOfEachSampleGiveTheSameResult(_ sample: Sample) {
        let expected = ParserHarness.whole(sample.bytes)
        var generator = SplitMix64(seed: 0xC0FFEE ^ UInt64(sample.bytes.count))
        for round in 0..<100 {
            let cuts = ParserHarness.randomCuts(sample.bytes.count, using: &generator)
            let outcome = ParserHarness.outcome(sample.bytes, cuts: cuts)
            #expect(outcome == expected, "round \(round), cuts \(cuts)")
            if outcome != expected { return }
        }
    }
}
