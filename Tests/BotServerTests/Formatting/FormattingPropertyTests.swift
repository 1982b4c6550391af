import Testing

@testable import BotServer

/// Random Markdown from `MarkdownGrammar`, a few hundred seeds: whatever the answer, every
/// chunk is within Telegram's limits and is HTML its parser takes, and the chunks together
/// show everything the whole answer shows, once.
@Suite struct FormattingPropertyTests {
    static let seeds: [UInt64] = Array(1...300)

    @Test func everyChunkIsValidAndNothingIsLost() {
        var chunkCount = 0
        var splitAnswers = 0
        for seed in Self.seeds {
            var grammar = MarkdownGrammar(seed: seed)
            let markdown = grammar.document()
            let html = TelegramHTML.render(markdown: markdown)
            let chunks = MessageSplitter().split(html: html)
            if seed % 10 == 0 { #expect(AnswerFormatter(maxMessages: .max).format(markdown: markdown) == .messages(chunks)) }
            chunkCount += chunks.count
            if chunks.count > 1 { splitAnswers += 1 }
            for (index, chunk) in chunks.enumerated() {
                let visible = TelegramChunk.visibleText(chunk)
                let problems = TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: visible)
                #expect(problems == [], "seed \(seed), chunk \(index): \(chunk.prefix(300))")
                #expect(AnswerFormatter.plainText(html: chunk) == visible, "seed \(seed), chunk \(index)")
            }
            let whole = TelegramChunk.nonWhitespaceScalars(TelegramChunk.visibleText(html))
            #expect(TelegramChunk.nonWhitespaceScalars(chunks.map(TelegramChunk.visibleText).joined()) == whole, "seed \(seed)")

            guard seed % 5 == 0 else { continue }
            let plain = AnswerFormatter().plainMessages(markdown: markdown)
            for message in plain {
                #expect(TelegramChunk.limitProblems(message, visible: message) == [], "seed \(seed), plain")
            }
            #expect(TelegramChunk.nonWhitespaceScalars(plain.joined()) == whole, "seed \(seed), plain")
        }
        // The grammar does produce answers that need splitting.
        #expect(splitAnswers > 40)
        #expect(chunkCount > 400)
    }

    @Test func smallLimitsToo() {
        // A small chunk size puts cuts everywhere: inside links, quotes, lists and code.
        let splitter = MessageSplitter(maxLength: 100, maxBytes: 2_000)
        for seed in Self.seeds.prefix(40) {
            var grammar = MarkdownGrammar(seed: seed &* 7919)
            let markdown = grammar.document()
            let html = TelegramHTML.render(markdown: markdown)
            let chunks = splitter.split(html: html)
            for chunk in chunks {
                let visible = TelegramChunk.visibleText(chunk)
                let problems = TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: visible, limit: 100)
                #expect(problems == [], "seed \(seed): \(chunk.prefix(300))")
                #expect(chunk.utf8.count <= 2_000)
            }
            #expect(
                TelegramChunk.nonWhitespaceScalars(chunks.map(TelegramChunk.visibleText).joined())
                    == TelegramChunk.nonWhitespaceScalars(TelegramChunk.visibleText(html)), "seed \(seed)")
        }
    }

    @Test func anyStringOfMarkdownSyntax() {
        // Not a grammar: random runs of the characters Markdown and HTML care about.
        let alphabet: [String] = "*_~`[]()<>!&\\#|-+=:. \n\n\t1a😀\u{301}\"'/".map(String.init)
            + ["\r\n", "\u{0}", "👨‍👩‍👧", "    ", "```", "> ", "- ", "1. "]
        var random = SplitMix64(seed: 42)
        let splitter = MessageSplitter(maxLength: 200)
        for seed in 0..<300 {
            let markdown = (0..<Int.random(in: 0...1500, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
            let html = TelegramHTML.render(markdown: markdown)
            let chunks = splitter.split(html: html)
            for chunk in chunks {
                let visible = TelegramChunk.visibleText(chunk)
                let problems = TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: visible, limit: 200)
                #expect(problems == [], "seed \(seed): \(chunk.prefix(300))")
            }
            #expect(
                TelegramChunk.nonWhitespaceScalars(chunks.map(TelegramChunk.visibleText).joined())
                    == TelegramChunk.nonWhitespaceScalars(TelegramChunk.visibleText(html)), "seed \(seed)")
        }
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

    @Test(arguments: hostile.keys.sorted()) func hostileInput(_ name: String) throws {
        let markdown = try #require(Self.hostile[name])
        guard case .messages(let chunks) = AnswerFormatter(maxMessages: .max).format(markdown: markdown) else { return }
        #expect(!chunks.isEmpty)
        for chunk in chunks {
            #expect(TelegramChunk.problems(chunk) + TelegramChunk.limitProblems(chunk, visible: TelegramChunk.visibleText(chunk)) == [])
        }
    }
}
