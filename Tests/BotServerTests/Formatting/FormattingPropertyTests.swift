import TestSupport
import Testing

@testable import BotServer

/// Random Markdown from `MarkdownGrammar`, a few hundred seeds: whatever the answer, every
/// chunk is within Telegram's limits and is HTML its parser takes, and the chunks together
/// show everything the whole answer shows, once.
@Suite struct FormattingPropertyTests {
    static let seeds: [UInt64] = Array(1...300)

    @Test func everyChunkIsValidAndNothingIsLost() async throws {
        let (findings, chunkCount, splitAnswers) = try await cpuHeavy { () -> (PropertyFindings, Int, Int) in
            var findings = PropertyFindings()
            var chunkCount = 0
            var splitAnswers = 0
            for seed in Self.seeds {
                var grammar = MarkdownGrammar(seed: seed)
                let markdown = grammar.document()
                let html = TelegramHTML.render(markdown: markdown)
                let chunks = MessageSplitter().split(html: html)
                if seed % 10 == 0 {
                    findings.check(AnswerFormatter(maxMessages: .max).format(markdown: markdown) == .messages(chunks), "seed \(seed): format ≠ split")
                }
                chunkCount += chunks.count
                if chunks.count > 1 { splitAnswers += 1 }
                for (index, chunk) in chunks.enumerated() {
                    let visible = TelegramChunk.visibleText(chunk)
                    let problems = TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: visible)
                    findings.check(problems == [], "seed \(seed), chunk \(index): \(problems) in \(chunk.prefix(300))")
                    findings.check(AnswerFormatter.plainText(html: chunk) == visible, "seed \(seed), chunk \(index): plain text ≠ visible text")
                }
                let whole = TelegramChunk.nonWhitespaceScalars(TelegramChunk.visibleText(html))
                findings.check(
                    TelegramChunk.nonWhitespaceScalars(chunks.map(TelegramChunk.visibleText).joined()) == whole,
                    "seed \(seed): the chunks do not show what the whole answer shows")

                guard seed % 5 == 0 else { continue }
                let plain = AnswerFormatter().plainMessages(markdown: markdown)
                for message in plain {
                    let problems = TelegramChunk.limitProblems(message, visible: message)
                    findings.check(problems == [], "seed \(seed), plain: \(problems)")
                }
                findings.check(TelegramChunk.nonWhitespaceScalars(plain.joined()) == whole, "seed \(seed), plain: text lost or added")
            }
            return (findings, chunkCount, splitAnswers)
        }
        #expect(findings.failures == [])
        // The grammar does produce answers that need splitting.
        #expect(splitAnswers > 40)
        #expect(chunkCount > 400)
    }

    @Test func smallLimitsToo() async throws {
        // A small chunk size puts cuts everywhere: inside links, quotes, lists and code.
        let findings = try await cpuHeavy { () -> PropertyFindings in
            var findings = PropertyFindings()
            let splitter = MessageSplitter(maxLength: 100, maxBytes: 2_000)
            for seed in Self.seeds.prefix(40) {
                var grammar = MarkdownGrammar(seed: seed &* 7919)
                let markdown = grammar.document()
                let html = TelegramHTML.render(markdown: markdown)
                let chunks = splitter.split(html: html)
                Self.check(chunks, of: html, limit: 100, seed: seed, into: &findings)
                for chunk in chunks { findings.check(chunk.utf8.count <= 2_000, "seed \(seed): \(chunk.utf8.count) bytes") }
            }
            return findings
        }
        #expect(findings.failures == [])
    }

    @Test func anyStringOfMarkdownSyntax() async throws {
        // Not a grammar: random runs of the characters Markdown and HTML care about.
        let findings = try await cpuHeavy { () -> PropertyFindings in
            var findings = PropertyFindings()
            let alphabet: [String] = "*_~`[]()<>!&\\#|-+=:. \n\n\t1a😀\u{301}\"'/".map(String.init)
                + ["\r\n", "\u{0}", "👨‍👩‍👧", "    ", "```", "> ", "- ", "1. "]
            var random = SplitMix64(seed: 42)
            let splitter = MessageSplitter(maxLength: 200)
            for seed in 0..<300 {
                let markdown = (0..<Int.random(in: 0...1500, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
                let html = TelegramHTML.render(markdown: markdown)
                Self.check(splitter.split(html: html), of: html, limit: 200, seed: seed, into: &findings)
            }
            return findings
        }
        #expect(findings.failures == [])
    }

    /// Every chunk is HTML Telegram takes within `limit`, and together they show what the
    /// whole answer shows.
    private static func check(_ chunks: [String], of html: String, limit: Int, seed: some CustomStringConvertible, into findings: inout PropertyFindings) {
        for chunk in chunks {
            let visible = TelegramChunk.visibleText(chunk)
            let problems = TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: visible, limit: limit)
            findings.check(problems == [], "seed \(seed): \(problems) in \(chunk.prefix(300))")
        }
        findings.check(
            TelegramChunk.nonWhitespaceScalars(chunks.map(TelegramChunk.visibleText).joined())
                == TelegramChunk.nonWhitespaceScalars(TelegramChunk.visibleText(html)),
            "seed \(seed): the chunks do not show what the whole answer shows")
    }

    /// Nesting and repetition that would be quadratic or overflow the stack if unbounded.
    static let hostile: [String: String] = [
        "20,000 nested stars": String(repeating: "*", count: 20_000) + "a" + String(repeating: "*", count: 20_000),
        "5,000 nested emphasis runs": (0..<5_000).map { _ in "*a " }.joined() + (0..<5_000).map { _ in " b*" }.joined(),
        "3,000 nested quotes": String(repeating: ">", count: 3_000) + " deep",
        "300 nested lists": (0..<300).map { String(repeating: "  ", count: $0) + "- x" }.joined(separator: "\n"),
        "20,000 open brackets": String(repeating: "[", count: 20_000) + "x" + String(repeating: "](y)", count: 100),
        "backtick runs of every length": String(repeating: "`", count: 5_000) + " " + (1...200).map { String(repeating: "`", count: $0) }.joined(separator: " "),
    ]

    @Test(arguments: hostile.keys.sorted()) func hostileInput(_ name: String) async throws {
        let markdown = try #require(Self.hostile[name])
        let findings = try await cpuHeavy { () -> PropertyFindings in
            var findings = PropertyFindings()
            guard case .messages(let chunks) = AnswerFormatter(maxMessages: .max).format(markdown: markdown) else {
                findings.check(false, "became a document, though any number of messages is allowed")
                return findings
            }
            findings.check(!chunks.isEmpty, "no chunks")
            for (index, chunk) in chunks.enumerated() {
                let problems = TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: TelegramChunk.visibleText(chunk))
                findings.check(problems == [], "chunk \(index): \(problems)")
            }
            return findings
        }
        #expect(findings.failures == [])
    }
}
