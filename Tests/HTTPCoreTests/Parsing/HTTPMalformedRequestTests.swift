import HTTPCore
import Testing

/// Malformed requests: each rejected with its exact status, whatever the split of the input.
@Suite struct HTTPMalformedRequestTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let status: Int
        var limits = HTTPParserLimits()
        var maxBodyLength = 1 << 20
        var testDescription: String { "\(status) \(name)" }

        init(_ name: String, _ text: String, _ status: Int) {
            self.init(name, bytes: Array(text.utf8), status)
        }

        init(_ name: String, bytes: [UInt8], _ status: Int) {
            self.name = name
            self.bytes = bytes
            self.status = status
        }

        func with(maxBodyLength: Int) -> Case {
            var copy = self
            copy.maxBodyLength = maxBodyLength
            return copy
        }
    }

    private static let get = "GET / HTTP/1.1\r\nHost: x\r\n"

    /// A head with one extra field `name: <bytes>`.
    private static func field(_ name: String, bytes value: [UInt8]) -> [UInt8] {
        Array((get + name + ": ").utf8) + value + Array("\r\n\r\n".utf8)
    }

    private static func target(bytes: [UInt8]) -> [UInt8] {
        Array("GET ".utf8) + bytes + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
    }

    private static func chunked(_ body: String) -> String {
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    }

    static let cases: [Case] = [
        // Line endings.
        Case("bare LF ends the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
        Case("bare LF alone, head incomplete", "GET / HTTP/1.1\n", 400),
        Case("bare LF ends a field line", get + "X-A: a\n\r\n", 400),
        Case("bare LF as the blank line", get + "\n", 400),
        Case("bare LF among leading empty lines", "\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("bare CR inside the request line", "GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("bare CR ends the request line", "GET / HTTP/1.1\rHost: x\r\r", 400),
        Case("bare CR in a field value", get + "X-A: a\rb\r\n\r\n", 400),
        Case("CR CR LF", "GET / HTTP/1.1\r\r\n", 400),
        Case("bare CR among leading empty lines", "\r\rGET / HTTP/1.1\r\n", 400),
        // Request line shape.
        Case("two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("two spaces before the version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        Case("tab as separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("no version (HTTP/0.9 style)", "GET /\r\n\r\n", 400),
        Case("no target", "GET HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("empty version", "GET / \r\nHost: x\r\n\r\n", 400),
        Case("invalid method character", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("non-ASCII method", bytes: [0x47, 0xC3, 0x89, 0x54] + Array(" / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 400),
        Case("DEL in target", bytes: target(bytes: [0x2F, 0x61, 0x7F]), 400),
        Case("NUL in target", bytes: target(bytes: [0x2F, 0x00]), 400),
        Case("non-ASCII target", bytes: target(bytes: [0x2F, 0xC3, 0xA9]), 400),
        Case("relative target", "GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("asterisk without OPTIONS", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("asterisk with a suffix", "OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("absolute-form, empty authority", "GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("absolute-form, scheme only", "GET http:// HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("absolute-form, other scheme", "GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("absolute-form with userinfo", "GET http://u:p@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        Case("authority-form", "GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        // Version.
        Case("lowercase http", "GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        Case("no minor version", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
        Case("extra characters after the version", "GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
        Case("two-digit major", "GET / HTTP/11.1\r\nHost: x\r\n\r\n", 400),
        Case("HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 400),
        Case("letter as minor", "GET / HTTP/1.a\r\nHost: x\r\n\r\n", 400),
        Case("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        Case("HTTP/3.0", "GET / HTTP/3.0\r\n", 505),
        Case("HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
        Case("version is checked before the headers arrive", "GET / HTTP/2.0\r\n bad\r\n", 505),
        // Methods.
        Case("BREW", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        Case("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 501),
        Case("TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        Case("lowercase get", "get / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        // Field syntax.
        Case("obsolete line folding", get + "X-A: a\r\n  b\r\n\r\n", 400),
        Case("folding as the first field line", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
        Case("space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        Case("tab before the colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400),
        Case("empty field name", get + ": x\r\n\r\n", 400),
        Case("no colon", get + "NoColon\r\n\r\n", 400),
        Case("space inside the name", get + "Bad Name: x\r\n\r\n", 400),
        Case("non-token name", get + "X(a): x\r\n\r\n", 400),
        Case("NUL in a value", bytes: field("X-A", bytes: [0x61, 0x00, 0x62]), 400),
        Case("control character in a value", bytes: field("X-A", bytes: [0x61, 0x01]), 400),
        Case("ESC in a value", bytes: field("X-A", bytes: [0x1B, 0x5B]), 400),
        Case("vertical tab in a value", bytes: field("X-A", bytes: [0x61, 0x0B, 0x62]), 400),
        Case("DEL in a value", bytes: field("X-A", bytes: [0x61, 0x7F]), 400),
        // Host.
        Case("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: a\r\n\r\n", 400),
        Case("two Host fields", get + "host: y\r\n\r\n", 400),
        Case("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        // Framing.
        Case(
            "Transfer-Encoding and Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
        Case("Content-Length then Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        Case("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        Case("Transfer-Encoding gzip", get + "Transfer-Encoding: gzip\r\n\r\n", 501),
        Case("Transfer-Encoding gzip, chunked", get + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
        Case("chunked twice", get + "Transfer-Encoding: chunked, chunked\r\n\r\n", 501),
        Case("chunked not last", get + "Transfer-Encoding: chunked, gzip\r\n\r\n", 501),
        Case("Transfer-Encoding identity", get + "Transfer-Encoding: identity\r\n\r\n", 501),
        Case("chunked with a parameter", get + "Transfer-Encoding: chunked;q=1\r\n\r\n", 501),
        Case("chunked in two fields", get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        Case("empty Transfer-Encoding", get + "Transfer-Encoding:\r\n\r\n", 400),
        Case("Transfer-Encoding of commas", get + "Transfer-Encoding: ,\r\n\r\n", 400),
        Case("empty Transfer-Encoding element", get + "Transfer-Encoding: , chunked\r\n\r\n", 400),
        Case("quoted Transfer-Encoding", get + "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
        Case("space inside a coding", get + "Transfer-Encoding: chun ked\r\n\r\n", 400),
        Case("malformed beats unsupported", get + "Transfer-Encoding: gzip, @\r\n\r\n", 400),
        Case("negative Content-Length", get + "Content-Length: -5\r\n\r\n", 400),
        Case("Content-Length with a sign", get + "Content-Length: +5\r\n\r\n", 400),
        Case("space inside Content-Length", get + "Content-Length: 5 5\r\n\r\n", 400),
        Case("hex Content-Length", get + "Content-Length: 0x5\r\n\r\n", 400),
        Case("decimal Content-Length", get + "Content-Length: 5.0\r\n\r\n", 400),
        Case("empty Content-Length", get + "Content-Length:\r\n\r\n", 400),
        Case("Content-Length list with a trailing comma", get + "Content-Length: 5,\r\n\r\n", 400),
        Case("differing Content-Length list", get + "Content-Length: 5, 6\r\n\r\n", 400),
        Case("differing Content-Length fields", get + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        Case("19-digit Content-Length", get + "Content-Length: 1000000000000000000\r\n\r\n", 413),
        Case("POST without length", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        Case("PUT without length", "PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        Case("PATCH without length", "PATCH / HTTP/1.0\r\n\r\n", 411),
        // Expect.
        Case("unknown expectation", get + "Expect: something\r\n\r\n", 417),
        Case("empty expectation", get + "Expect:\r\n\r\n", 417),
        Case("100-continue with a parameter", get + "Expect: 100-continue;x=1\r\n\r\n", 417),
        Case("Host is checked before Expect", "GET / HTTP/1.1\r\nExpect: x\r\n\r\n", 400),
        // Bodies.
        Case("Content-Length above the maximum", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413)
            .with(maxBodyLength: 10),
        Case("one chunk above the maximum", chunked("B\r\n"), 413).with(maxBodyLength: 10),
        Case("chunks adding up above the maximum", chunked("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"), 413)
            .with(maxBodyLength: 10),
        Case("space after the chunk size", chunked("5 \r\nhello\r\n0\r\n\r\n"), 400),
        Case("space before the chunk size", chunked(" 5\r\nhello\r\n0\r\n\r\n"), 400),
        Case("space before an extension", chunked("5 ;a\r\nhello\r\n0\r\n\r\n"), 400),
        Case("missing chunk size", chunked("\r\nhello\r\n0\r\n\r\n"), 400),
        Case("non-hex chunk size", chunked("g\r\n"), 400),
        Case("signed chunk size", chunked("+5\r\nhello\r\n0\r\n\r\n"), 400),
        Case("0x chunk size", chunked("0x5\r\nhello\r\n0\r\n\r\n"), 400),
        Case("16 hex digits", chunked("0000000000000005\r\nhello\r\n0\r\n\r\n"), 400),
        Case("bare LF after the chunk size", chunked("5\nhello\r\n0\r\n\r\n"), 400),
        Case("bare CR after the chunk size", chunked("5\rhello\r\n0\r\n\r\n"), 400),
        Case("data not followed by CRLF", chunked("5\r\nhelloXY0\r\n\r\n"), 400),
        Case("data followed by bare LF", chunked("5\r\nhello\n0\r\n\r\n"), 400),
        Case("data longer than the chunk size", chunked("3\r\nhello\r\n0\r\n\r\n"), 400),
        Case("empty extension", chunked("5;\r\nhello\r\n0\r\n\r\n"), 400),
        Case("extension with an empty value", chunked("5;a=\r\nhello\r\n0\r\n\r\n"), 400),
        Case("space inside an extension name", chunked("5;a b\r\nhello\r\n0\r\n\r\n"), 400),
        Case("whitespace ending an extension", chunked("5;a=b \r\nhello\r\n0\r\n\r\n"), 400),
        Case("unterminated quoted extension", chunked("5;a=\"b\r\nhello\r\n0\r\n\r\n"), 400),
        Case("bare LF in an extension", chunked("5;a\nhello\r\n0\r\n\r\n"), 400),
        Case("control character in an extension", chunked("5;a=\"\u{1}\"\r\nhello\r\n0\r\n\r\n"), 400),
        Case("trailer folding", chunked("0\r\nX-A: a\r\n b\r\n\r\n"), 400),
        Case("trailer name with a space", chunked("0\r\nBad Name: x\r\n\r\n"), 400),
        Case("trailer without a colon", chunked("0\r\nX-A\r\n\r\n"), 400),
        Case("bare LF in the trailer section", chunked("0\r\nX-A: a\n\r\n"), 400),
        Case("NUL in a trailer value", chunked("0\r\nX-A: \u{0}\r\n\r\n"), 400),
        Case("bare LF ending the body", chunked("0\r\n\n"), 400),
        // Limits with the default values.
        Case("request line too long", "GET /" + String(repeating: "a", count: 8 * 1024), 414),
        Case(
            "head too long",
            get + "X-A: " + String(repeating: "a", count: 16 * 1024) + "\r\n\r\n", 431),
        Case(
            "too many header fields",
            get + String(repeating: "X-A: a\r\n", count: 100) + "\r\n", 431),
        Case("chunk extensions too long", chunked("5;a=" + String(repeating: "b", count: 4 * 1024) + "\r\n"), 400),
        Case("trailer section too long", chunked("0\r\nX-A: " + String(repeating: "b", count: 4 * 1024)), 431),
    ]

    @Test(arguments: cases) func isRejectedWithItsStatusWhateverTheSplit(_ rejected: Case) {
        let expected = ParserHarness.Outcome.failed(status: rejected.status)
        func outcome(_ cuts: [Int]) -> ParserHarness.Outcome {
            ParserHarness.outcome(
                rejected.bytes, cuts: cuts, limits: rejected.limits, maxBodyLength: rejected.maxBodyLength)
        }
        #expect(outcome([]) == expected, "whole")
        let count = rejected.bytes.count
        // Every two-way split of short inputs; for long ones, every split near either end and a stride between.
        let positions = count <= 2048 ? Array(1..<count) : Array(1..<200) + Array(stride(from: 200, to: count - 200, by: 97)) + Array((count - 200)..<count)
        for cut in positions {
            let split = outcome([cut])
            #expect(split == expected, "cut at \(cut)")
            if split != expected { return }
        }
        #expect(outcome(Array(1..<max(1, count))) == expected, "byte at a time")
        var generator = SplitMix64(seed: 0xBAD ^ UInt64(count))
        for round in 0..<20 {
            let cuts = ParserHarness.randomCuts(count, using: &generator)
            #expect(outcome(cuts) == expected, "round \(round), cuts \(cuts)")
        }
    }

    @Test func failedStreamParserKeepsFailing() {
        var parser = HTTPRequestStreamParser()
        #expect(throws: HTTPParseError.self) { try parser.feed(Array("BREW / HTTP/1.1\r\n".utf8)) }
        do {
            _ = try parser.feed(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            Issue.record("a failed parser accepted more input")
        } catch {
            #expect(error.status == .notImplemented)
        }
    }
}
