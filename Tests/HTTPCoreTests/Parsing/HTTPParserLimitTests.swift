import HTTPCore
import Testing

/// Every limit at its boundary: exactly the maximum is accepted, one more byte (or field) is
/// rejected — whole, byte at a time and at every two-way split.
@Suite struct HTTPParserLimitTests {
    private func limits(
        requestLine: Int = 8 * 1024, head: Int = 16 * 1024, fields: Int = 100, metadata: Int = 4 * 1024
    ) -> HTTPParserLimits {
        var limits = HTTPParserLimits()
        limits.maxRequestLineLength = requestLine
        limits.maxHeadLength = head
        limits.maxHeaderCount = fields
        limits.maxChunkMetadataLength = metadata
        return limits
    }

    /// Checks one outcome for the whole input and for every split of it; returns the outcome.
    @discardableResult
    private func consistentOutcome(
        _ text: String, limits: HTTPParserLimits, maxBodyLength: Int = 1 << 20,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ParserHarness.Outcome {
        let bytes = Array(text.utf8)
        let whole = ParserHarness.whole(bytes, limits: limits, maxBodyLength: maxBodyLength)
        for cut in 1..<bytes.count {
            let split = ParserHarness.outcome(bytes, cuts: [cut], limits: limits, maxBodyLength: maxBodyLength)
            #expect(split == whole, "cut at \(cut)", sourceLocation: sourceLocation)
            if split != whole { break }
        }
        #expect(
            ParserHarness.byteAtATime(bytes, limits: limits, maxBodyLength: maxBodyLength) == whole,
            "byte at a time", sourceLocation: sourceLocation)
        return whole
    }

    private func isAccepted(_ outcome: ParserHarness.Outcome) -> Bool {
        if case .requests(let requests, incomplete: false) = outcome { return requests.count == 1 }
        return false
    }

    /// A request whose request line (without CRLF) is exactly `length` bytes.
    private func requestLine(length: Int) -> String {
        let fixed = "GET / HTTP/1.1".utf8.count
        return "GET /" + String(repeating: "a", count: length - fixed) + " HTTP/1.1"
    }

    @Test func requestLineAtTheLimit() {
        let limits = limits(requestLine: 40)
        #expect(isAccepted(consistentOutcome(requestLine(length: 40) + "\r\nHost: x\r\n\r\n", limits: limits)))
        #expect(consistentOutcome(requestLine(length: 41) + "\r\nHost: x\r\n\r\n", limits: limits) == .failed(status: 414))
        // Rejected as soon as the buffered line is too long, before any line ending.
        #expect(consistentOutcome(requestLine(length: 41), limits: limits) == .failed(status: 414))
        #expect(consistentOutcome(String(repeating: "A", count: 41), limits: limits) == .failed(status: 414))
    }

    @Test func requestLineAtTheLimitWaitsForItsLineFeed() throws {
        var parser = HTTPRequestHeadParser(limits: limits(requestLine: 40))
        let bytes = Array((requestLine(length: 40) + "\r").utf8)
        #expect(try bytes.withUnsafeBytes { try parser.parse($0) } == nil)
    }

    @Test func headAtTheLimit() {
        let limits = limits(head: 100)
        // 16 + 9 + padding line + 2 = 100 bytes.
        let base = "GET / HTTP/1.1\r\nHost: x\r\nX-A: \r\n\r\n".utf8.count
        let exact = "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "a", count: 100 - base) + "\r\n\r\n"
        #expect(exact.utf8.count == 100)
        #expect(isAccepted(consistentOutcome(exact, limits: limits)))
        let over = "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "a", count: 101 - base) + "\r\n\r\n"
        #expect(consistentOutcome(over, limits: limits) == .failed(status: 431))
        // Leading empty lines count towards the head.
        let leading = "\r\n\r\n" + "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "a", count: 96 - base) + "\r\n\r\n"
        #expect(leading.utf8.count == 100)
        #expect(isAccepted(consistentOutcome(leading, limits: limits)))
        #expect(consistentOutcome("\r\n" + leading, limits: limits) == .failed(status: 431))
        // An incomplete head is rejected once it is longer than the limit.
        let incomplete = "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "a", count: 80)
        #expect(incomplete.utf8.count == 110)
        #expect(consistentOutcome(incomplete, limits: limits) == .failed(status: 431))
        // One byte less could still become a valid head... if it were complete; it is not rejected yet.
        #expect(consistentOutcome(String(exact.dropLast()), limits: limits) == .requests([], incomplete: true))
    }

    @Test func headerCountAtTheLimit() {
        let limits = limits(fields: 5)
        let four = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-A: a\r\n", count: 4)
        #expect(isAccepted(consistentOutcome(four + "\r\n", limits: limits)))
        #expect(consistentOutcome(four + "X-B: b\r\n\r\n", limits: limits) == .failed(status: 431))
    }

    @Test func contentLengthBodyAtTheLimit() {
        let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
        #expect(isAccepted(consistentOutcome(head + "10\r\n\r\n0123456789", limits: .init(), maxBodyLength: 10)))
        #expect(consistentOutcome(head + "11\r\n\r\n0123456789a", limits: .init(), maxBodyLength: 10) == .failed(status: 413))
    }

    @Test func chunkedBodyAtTheLimit() {
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        let exact = head + "4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n"
        #expect(isAccepted(consistentOutcome(exact, limits: .init(), maxBodyLength: 10)))
        let over = head + "4\r\nabcd\r\n7\r\nefghijk\r\n0\r\n\r\n"
        #expect(consistentOutcome(over, limits: .init(), maxBodyLength: 10) == .failed(status: 413))
    }

    @Test func chunkSizeDigitsAtTheLimit() {
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(isAccepted(consistentOutcome(head + "000000000000003\r\nabc\r\n0\r\n\r\n", limits: .init())))
        #expect(consistentOutcome(head + "0000000000000003\r\nabc\r\n0\r\n\r\n", limits: .init()) == .failed(status: 400))
    }

    @Test func chunkExtensionsAtTheLimit() {
        let limits = limits(metadata: 16)
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        // All extensions of the body together: ";abc=def" (8) + ";ghi=jk" (7) + ";l" (2) = 17.
        let base = "1;abc=def\r\na\r\n1;ghi=jk\r\nb\r\n0;l\r\n\r\n"
        #expect(consistentOutcome(head + base, limits: limits) == .failed(status: 400))
        // ";abc=def" (8) + ";ghi=j" (6) + ";l" (2) = 16.
        let exact = "1;abc=def\r\na\r\n1;ghi=j\r\nb\r\n0;l\r\n\r\n"
        #expect(isAccepted(consistentOutcome(head + exact, limits: limits)))
    }

    @Test func trailerSectionAtTheLimit() {
        let limits = limits(metadata: 16)
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        // "X-A: 1234567\r\n" is 14 bytes, the final CRLF 2 more: 16.
        let exact = head + "X-A: 1234567\r\n\r\n"
        #expect(isAccepted(consistentOutcome(exact, limits: limits)))
        #expect(consistentOutcome(head + "X-A: 12345678\r\n\r\n", limits: limits) == .failed(status: 431))
    }

    @Test func contentLengthDigitsAtTheLimit() throws {
        var parser = HTTPRequestHeadParser()
        let largest = Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999999\r\n\r\n".utf8)
        let head = try #require(try largest.withUnsafeBytes { try parser.parse($0) }?.head)
        #expect(head.framing == .contentLength(999_999_999_999_999_999))
        // Leading zeros are not significant.
        let padded = Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0000000000000000000000000005\r\n\r\n".utf8)
        #expect(try padded.withUnsafeBytes { try parser.parse($0) }?.head.framing == .contentLength(5))
        let tooLarge = Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000000\r\n\r\n".utf8)
        #expect(throws: HTTPParseError(.contentTooLarge, "Content-Length too large")) {
            try tooLarge.withUnsafeBytes { try parser.parse($0) }
        }
    }

    @Test func byteAtATimeFeedingOfAMaximalHeadIsLinear() throws {
        // 16 KiB fed one byte at a time: quadratic rescanning would make this take seconds.
        let filler = String(repeating: "X-Filler: " + String(repeating: "f", count: 150) + "\r\n", count: 90)
        let text = "GET / HTTP/1.1\r\nHost: x\r\n" + filler + "\r\n"
        let bytes = Array(text.utf8)
        try #require(bytes.count < 16 * 1024)
        let clock = ContinuousClock()
        // The best of three, so that a moment without the CPU does not count.
        var elapsed = Duration.seconds(1000)
        for _ in 0..<3 {
            var parser = HTTPRequestHeadParser()
            elapsed = min(elapsed, try clock.measure {
                for end in 1..<bytes.count {
                    let done = try bytes.withUnsafeBytes { try parser.parse(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
                    try #require(done == nil)
                }
                let done = try bytes.withUnsafeBytes { try parser.parse($0) }
                try #require(done?.head.headers.count == 91)
            })
        }
        // The yardstick, measured on the same machine under the same load: a fresh parser for
        // every 8th prefix, i.e. an eighth of what rescanning from the start costs. Feeding
        // linearly takes about a twentieth of that (0.025 s against 0.5 s unloaded), while
        // rescanning would take about eight times as much, so the ratio, not a wall-clock
        // ceiling, tells the two apart on a slow or busy machine.
        let rescanningEighth = try clock.measure {
            for end in stride(from: 1, to: bytes.count, by: 8) {
                var fresh = HTTPRequestHeadParser()
                _ = try bytes.withUnsafeBytes { try fresh.parse(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
            }
        }
        #expect(elapsed < rescanningEighth, "byte-at-a-time feeding took \(elapsed); an eighth of rescanning takes \(rescanningEighth)")
    }
}
