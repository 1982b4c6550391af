import Testing

@testable import BotServer

@Suite struct FormattingSplitTests {
    private func messages(_ markdown: String, maxMessages: Int = 100) throws -> [String] {
        guard case .messages(let chunks) = AnswerFormatter(maxMessages: maxMessages).format(markdown: markdown) else {
            Issue.record("expected messages")
            return []
        }
        for chunk in chunks {
            #expect(TelegramChunk.problems(chunk) == [], "\(chunk.prefix(200))")
            #expect(TelegramChunk.limitProblems(chunk, visible: TelegramChunk.visibleText(chunk)) == [])
        }
        return chunks
    }

    private func visible(_ chunks: [String]) -> [String] { chunks.map(TelegramChunk.visibleText) }

    @Test func aLongCodeBlockIsCodeInEveryMessageAndCutBetweenLines() throws {
        let code = (0..<250).map { "    let value\($0) = compute(a < b && c > \"d\")  // \($0)" }.joined(separator: "\n")
        #expect(code.count > 12_000)
        let chunks = try messages("Here:\n\n```swift\n" + code + "\n```")
        #expect(chunks.count == 4)
        for chunk in chunks.dropFirst() {
            #expect(chunk.hasPrefix(#"<pre><code class="language-swift">    let value"#), "indentation kept")
        }
        for chunk in chunks {
            #expect(chunk.hasSuffix("</code></pre>"))
        }
        for chunk in visible(chunks).dropLast() { #expect(chunk.utf16.count > 2048) }
        #expect(visible(chunks).joined(separator: "\n") == "Here:\n\n" + code)
    }

    @Test func paragraphsAreKeptWhole() throws {
        let paragraphs = (0..<6).map { index in (0..<250).map { _ in "word\(index)" }.joined(separator: " ") }
        let chunks = try messages(paragraphs.joined(separator: "\n\n"))
        let pairs: [String] = [0, 2, 4].map { (index: Int) -> String in paragraphs[index] + "\n\n" + paragraphs[index + 1] }
        #expect(visible(chunks) == pairs)
    }

    @Test func aLongParagraphIsCutBetweenWords() throws {
        var grammar = MarkdownGrammar(seed: 7)
        let words = (0..<2500).map { _ in String(repeating: grammar.pick(["a", "bc", "def", "ghij", "é", "дом"]), count: grammar.number(1...3)) }
        let paragraph = words.joined(separator: " ")
        let chunks = visible(try messages(paragraph))
        #expect(chunks.count == (paragraph.utf16.count + 4095) / 4096)
        for chunk in chunks.dropLast() { #expect(chunk.utf16.count > 2048 && !chunk.hasSuffix(" ")) }
        #expect(chunks.joined(separator: " ") == paragraph)
    }

    @Test func aLongLineWithoutSpacesIsCutAtTheLimit() throws {
        let line = String(repeating: "x", count: 10_000)
        #expect(visible(try messages(line)).map(\.count) == [4096, 4096, 1808])
        // Entities count as the one character they show, and are never cut.
        let markup = String(repeating: "a<&>", count: 2_500)
        let chunks = try messages(markup)
        #expect(visible(chunks).map(\.count) == [4096, 4096, 1808])
        #expect(visible(chunks).joined() == markup)
        #expect(chunks[0].utf8.count == 1024 * (1 + 4 + 5 + 4))
    }

    @Test func emojiAtTheLimitMoveToTheNextMessage() throws {
        let cases: [(before: Int, emoji: String)] = [
            (4095, "😀"),  // a surrogate pair that would end at 4097
            (4090, "👨‍👩‍👧‍👦"),  // ZWJ family: 11 UTF-16 units, one character
            (4093, "🇺🇦"),  // flag: two regional indicators
            (4095, "👍🏽"),  // skin tone modifier
            (4095, "e\u{301}"),  // e + combining accent
        ]
        for (count, emoji) in cases {
            let chunks = visible(try messages(String(repeating: "a", count: count) + emoji + "bc"))
            #expect(chunks == [String(repeating: "a", count: count), emoji + "bc"], "\(emoji)")
        }
        // Exactly at the limit: one message.
        #expect(visible(try messages(String(repeating: "a", count: 4094) + "😀")).count == 1)
        #expect(visible(try messages(String(repeating: "😀", count: 2048))).count == 1)
        #expect(visible(try messages(String(repeating: "😀", count: 2049))).map(\.utf16.count) == [4096, 2])
    }

    @Test func aPathologicalClusterIsTakenApartByScalars() throws {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 5000)
        let chunks = try messages(zalgo)
        #expect(chunks.count == 2)
        #expect(visible(chunks).joined().unicodeScalars.elementsEqual(zalgo.unicodeScalars))
    }

    @Test func openTagsAreClosedAndReopened() throws {
        let words = (0..<1200).map { "w\($0)" }.joined(separator: " ")
        let bold = try messages("**" + words + "**")
        #expect(bold.count == 2)
        #expect(bold.allSatisfy { $0.hasPrefix("<b>") && $0.hasSuffix("</b>") })

        let quoted = try messages("> " + words + " *end*")
        #expect(quoted.count == 2)
        #expect(quoted.allSatisfy { $0.hasPrefix("<blockquote>") && $0.hasSuffix("</blockquote>") })
        #expect(quoted[1].hasSuffix("<i>end</i></blockquote>"))

        let label = (0..<300).map { "l\($0)" }.joined(separator: " ")
        let html = TelegramHTML.render(markdown: "[" + label + "](https://example.com/?a=1&b=\"2\")")
        let links = MessageSplitter(maxLength: 500).split(html: html)
        #expect(links.count == 3)
        #expect(links.allSatisfy { $0.hasPrefix(#"<a href="https://example.com/?a=1&amp;b=&quot;2&quot;">"#) && $0.hasSuffix("</a>") })
        #expect(links.allSatisfy { TelegramChunk.problems($0) == [] })
    }

    @Test func bytesAsSentAreLimitedToo() throws {
        // Long link targets: little visible text, a lot of bytes.
        let target = "https://example.com/" + String(repeating: "p&q/", count: 300)
        let links = (0..<40).map { "[link \($0)](\(target))" }.joined(separator: " ")
        let chunks = try messages(links)
        #expect(chunks.count == 4, "13 links of 2,443 bytes fit into 32,768")
        #expect(chunks.allSatisfy { $0.utf8.count <= 32_768 })
        #expect(visible(chunks).joined(separator: " ") == (0..<40).map { "link \($0)" }.joined(separator: " "))
    }

    @Test func listsAreCutBetweenItems() throws {
        let items = (0..<400).map { "- item \($0) with **some** text" }
        let chunks = visible(try messages(items.joined(separator: "\n")))
        #expect(chunks.count == 3)
        #expect(chunks.joined(separator: "\n") == (0..<400).map { "• item \($0) with some text" }.joined(separator: "\n"))
    }

    @Test func tooManyMessagesBecomeADocument() throws {
        let answer = (0..<40).map { "Paragraph \($0): " + String(repeating: "text ", count: 100) }.joined(separator: "\n\n")
        let formatter = AnswerFormatter(maxMessages: 3)
        guard case .document(let preview, let markdown) = formatter.format(markdown: answer) else {
            Issue.record("expected a document")
            return
        }
        #expect(markdown == answer)
        let shown = TelegramChunk.visibleText(preview)
        #expect(shown.utf16.count <= 802 && shown.hasPrefix("Paragraph 0: text") && shown.hasSuffix("\n…"))
        #expect(TelegramChunk.problems(preview) == [])
        #expect(preview.utf8.count <= 1_004)
        // At the limit it is still messages.
        guard case .messages(let chunks) = AnswerFormatter(maxMessages: 6).format(markdown: answer) else {
            Issue.record("expected messages")
            return
        }
        #expect(chunks.count == 6)
    }

    @Test func nothingVisibleIsNoMessage() throws {
        #expect(AnswerFormatter.format(markdown: "") == .messages([]))
        #expect(AnswerFormatter.format(markdown: " \n\n\t\n") == .messages([]))
        #expect(AnswerFormatter.format(markdown: "```\n```") == .messages([]))
        #expect(MessageSplitter(maxLength: 100).split(plain: String(repeating: " ", count: 300) + "x") == ["x"])
    }

    @Test func htmlIsReadAsTelegramReadsIt() {
        let text = StyledText(html: "<b>a &lt;&gt;&amp;&quot;&#65;&#x42;&amp b</b> &nbsp; &#xD800; <div> x</i> <i>open")
        #expect(text.text == "a <>&\"AB& b &nbsp; &#xD800; <div> x open")
        #expect(
            MessageSplitter().split(html: "<b>a &lt;&gt;&amp;&quot;&#65;&#x42;&amp b</b> &nbsp; &#xD800; <div> x</i> <i>open")
                == ["<b>a &lt;&gt;&amp;\"AB&amp; b</b> &amp;nbsp; &amp;#xD800; &lt;div&gt; x <i>open</i>"])
        // What the renderer writes comes back unchanged.
        let html = TelegramHTML.render(markdown: "# T\n\n> q **b** [l](https://x.io/?a=1&b=\"2\")\n\n```swift\nlet a = b < c\n```\n\n| a |\n|---|\n| 1 |")
        #expect(MessageSplitter().split(html: html) == [html])
    }

    @Test func plainTextFallback() {
        #expect(AnswerFormatter.plainText(html: #"<b>a &lt; b</b> &amp; <a href="https://x.io/?a=1&amp;b=2">c</a>"#) == "a < b & c")
        let answer = "# Title\n\n" + (0..<3000).map { "**w\($0)** `c`" }.joined(separator: " ")
        let plain = AnswerFormatter().plainMessages(markdown: answer)
        let total = plain.map(\.utf16.count).reduce(0, +)
        #expect(plain.count == (total + 4095) / 4096)
        #expect(plain.allSatisfy { $0.utf16.count <= 4096 && !$0.contains("<") && !$0.contains("&") })
        #expect(plain.joined(separator: " ") == "Title\n\n" + (0..<3000).map { "w\($0) c" }.joined(separator: " "))
        // A chunk's fallback shows exactly what the chunk shows.
        guard case .messages(let chunks) = AnswerFormatter(maxMessages: 100).format(markdown: answer) else {
            Issue.record("expected messages")
            return
        }
        for chunk in chunks { #expect(AnswerFormatter.plainText(html: chunk) == TelegramChunk.visibleText(chunk)) }
    }
}
