import Testing

@testable import HTTPCore

@Suite struct HTTPResponseHeadParserTests {
    private func parse(_ text: String, method: HTTPMethod = .GET, cuts: [Int] = []) throws -> (ParsedResponseHead, Int)?
    {
        var parser = HTTPResponseHeadParser(maxHeadLength: 1024, maxHeaderCount: 8)
        let bytes = Array(text.utf8)
        for end in cuts + [bytes.count] {
            let result = try bytes[0..<end].withUnsafeBytes { try parser.parse($0, requestMethod: method) }
            if let result { return result }
        }
        return nil
    }

    @Test func aHeadGivesTheSameResultAtEverySplit() throws {
        let text = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\nbody follows"
        let whole = try #require(try parse(text))
        #expect(whole.0.head.status == 429)
        #expect(whole.0.head.reasonPhrase == "Too Many Requests")
        #expect(whole.0.head.headers["content-type"] == "application/json")
        #expect(whole.0.framing == .contentLength(12))
        #expect(whole.0.keepAlive)
        #expect(whole.1 == text.utf8.count - 12)
        for cut in 1..<(text.utf8.count - 12) {
            let split = try #require(try parse(text, cuts: [cut]), "cut at \(cut)")
            #expect(split.1 == whole.1)
            #expect(split.0.framing == whole.0.framing)
        }
    }

    @Test func anIncompleteHeadAsksForMore() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n") == nil)
    }

    @Test func framingFollowsRFC9112() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?.0.framing == .chunked)
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: .HEAD)?.0.framing == ResponseFraming.none)
        #expect(try parse("HTTP/1.1 204 No Content\r\n\r\n")?.0.framing == ResponseFraming.none)
        #expect(try parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n")?.0.framing == ResponseFraming.none)
        let untilClose = try #require(try parse("HTTP/1.1 200 OK\r\n\r\n"))
        #expect(untilClose.0.framing == .untilClose)
        #expect(!untilClose.0.keepAlive, "a body delimited by close can never be followed by another response")
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n")?.0.framing == .contentLength(7))
        #expect(try parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")?.0.head.reasonPhrase == "")
    }

    @Test func persistenceFollowsTheVersionAndConnectionHeader() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")?.0.keepAlive == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")?.0.keepAlive == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")?.0.keepAlive == true)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare CR or LF"),
        ("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "obsolete line folding"),
        ("HTTP/2 200 OK\r\n\r\n", "malformed status line"),
        ("HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
        ("HTTP/1.1 099 Odd\r\n\r\n", "status code below 100"),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "invalid header field name"),
        ("HTTP/1.1 200 OK\r\nX: a\u{01}b\r\n\r\n", "invalid character in header field value"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting Content-Length values"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and Transfer-Encoding"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "unsupported transfer coding"),
    ])
    func malformedHeadsAreRefused(text: String, reason: String) {
        #expect {
            _ = try parse(text)
        } throws: { error in
            (error as? HTTPResponseParseError)?.reason.contains(reason) == true
        }
    }

    @Test func limitsAreEnforced() {
        let manyFields = "HTTP/1.1 200 OK\r\n" + (0..<9).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        #expect(throws: HTTPResponseParseError.self) { _ = try parse(manyFields) }
        let longHead = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 1100) + "\r\n\r\n"
        #expect(throws: HTTPResponseParseError.self) { _ = try parse(longHead) }
    }
}
