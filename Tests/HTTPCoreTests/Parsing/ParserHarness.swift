import HTTPCore

/// Feeds byte streams to `HTTPRequestStreamParser` in chosen pieces and reduces the result to
/// something comparable, so that tests can check that the split never changes the outcome.
enum ParserHarness {
    enum Outcome: Equatable, CustomStringConvertible {
        /// Every request completed, in canonical text form, and whether input was left over
        /// (an incomplete request).
        case requests([String], incomplete: Bool)
        case failed(status: Int)

        var description: String {
            switch self {
            case .requests(let requests, let incomplete):
                return "requests(\(requests.count), incomplete: \(incomplete))\n" + requests.joined(separator: "\n")
            case .failed(let status): return "failed(\(status))"
            }
        }
    }

    static func describe(_ request: HTTPRequest) -> String {
        let head = request.head
        let headers = head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: "|")
        return
            "\(head.method.rawValue) \(head.target) path=\(head.path) query=\(head.query ?? "<nil>") \(head.version) "
            + "[\(headers)] \(head.framing) keepAlive=\(head.keepAlive) continue=\(head.expectsContinue) "
            + "body=\(request.body)"
    }

    /// Feeds `stream` cut at `cuts` (sorted offsets strictly inside the stream).
    static func outcome(
        _ stream: [UInt8], cuts: [Int], limits: HTTPParserLimits = .init(), maxBodyLength: Int = 1 << 20
    ) -> Outcome {
        var parser = HTTPRequestStreamParser(limits: limits, maxBodyLength: maxBodyLength)
        var requests: [String] = []
        var start = 0
        do {
            for end in cuts + [stream.count] {
                requests += try parser.feed(stream[start..<end]).map(describe)
                start = end
            }
            // An empty feed must not change anything.
            requests += try parser.feed([]).map(describe)
        } catch {
            return .failed(status: error.status.code)
        }
        return .requests(requests, incomplete: !isDrained(parser))
    }

    /// Whether the parser holds no partial request: feeding a complete extra request yields exactly it.
    private static func isDrained(_ parser: HTTPRequestStreamParser) -> Bool {
        var copy = parser
        let probe = Array("GET /probe HTTP/1.1\r\nHost: p\r\n\r\n".utf8)
        guard let requests = try? copy.feed(probe), requests.count == 1 else { return false }
        return requests[0].head.path == "/probe"
    }

    static func whole(_ stream: [UInt8], limits: HTTPParserLimits = .init(), maxBodyLength: Int = 1 << 20) -> Outcome {
        outcome(stream, cuts: [], limits: limits, maxBodyLength: maxBodyLength)
    }

    static func byteAtATime(_ stream: [UInt8], limits: HTTPParserLimits = .init(), maxBodyLength: Int = 1 << 20)
        -> Outcome
    {
        outcome(stream, cuts: stream.indices.dropFirst().map { $0 }, limits: limits, maxBodyLength: maxBodyLength)
    }

    /// Random cuts, reproducible from the generator's seed.
    static func randomCuts(_ count: Int, using generator: inout SplitMix64) -> [Int] {
        guard count > 1 else { return [] }
        var cuts: [Int] = []
        var position = 0
        // Mix short and long pieces: most bugs live at tiny pieces near line ends.
        let maxPiece = [2, 5, 17, 64, count][Int(generator.next() % 5)]
        while true {
            position += 1 + Int(generator.next() % UInt64(maxPiece))
            if position >= count { return cuts }
            cuts.append(position)
        }
    }
}

/// A small, fast, seedable generator (Steele, Lea & Flood), so random tests reproduce.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
