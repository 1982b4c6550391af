import Foundation
import TestSupport
import Testing

@testable import BotServer

/// Every chunk of some large answers goes through the real `TelegramBotAPI` to the fake
/// Bot API, whose HTML parser is a port of TDLib's: Telegram's own rules are the judge.
@Suite struct FormattingEndToEndTests {
    static func answers() -> [String] {
        let code = (0..<300).map { "    if a\($0) < b && c > \"d\" { return 'x' } // \($0) 😀" }.joined(separator: "\n")
        let prose = (0..<60).map { index in
            "Paragraph \(index) with **bold _and italic_ text**, `code <T>`, ~~old~~, a [link](https://example.com/?q=\(index)&r=\"s\") "
                + String(repeating: "and more words 👨‍👩‍👧‍👦 🇺🇦 ", count: 8)
        }.joined(separator: "\n\n")
        let mixed = """
            # Report

            > **Note:** a < b && c > d, <div> and &amp; are text.
            > Still quoted, with a [link](https://x.io/a_(b)).

            | File | Lines | Status |
            |:-----|------:|:------:|
            | `main.swift` | 120 | ✅ |
            | 日本語.swift | 7 | ❌ |

            1. First
               - nested **bold**
                 - deeper `code`
            2. Second

            ---

            """ + String(repeating: "a", count: 4095) + "😀 after the emoji\n\n" + String(repeating: "&<>", count: 3000)
        let links = (0..<40).map { "[link \($0)](https://example.com/" + String(repeating: "p&q/", count: 300) + ")" }.joined(separator: " ")
        var random: [String] = []
        var seed: UInt64 = 1
        while random.count < 12 {
            var grammar = MarkdownGrammar(seed: seed * 104_729)
            let document = grammar.document()
            if document.count > 5_000 { random.append(document) }
            seed += 1
        }
        return ["```swift\n" + code + "\n```", prose, mixed, links] + random
    }

    @Test func telegramAcceptsEveryChunkAndItsPlainFallback() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        var sent = 0
        var longerThanTheLimitAsHTML = 0
        for (index, answer) in Self.answers().enumerated() {
            let chatID = Int64(100 + index)
            guard case .messages(let chunks) = AnswerFormatter(maxMessages: 50).format(markdown: answer) else {
                Issue.record("answer \(index): expected messages")
                continue
            }
            #expect(chunks.count > 1, "answer \(index) is split")
            for chunk in chunks {
                if chunk.unicodeScalars.count > TelegramLimits.messageText { longerThanTheLimitAsHTML += 1 }
                let message = try await harness.api.call(
                    SendMessage(chatID: chatID, text: chunk, parseMode: .html), as: Message.self)
                let plain = AnswerFormatter.plainText(html: chunk)
                #expect(message.text == plain.trimmedLikeTelegram, "answer \(index)")
                // Without parse_mode the fallback is sent as it is, and SendMessage's own check applies.
                let fallback = try await harness.api.sendMessage(SendMessage(chatID: chatID, text: plain))
                #expect(fallback.text == plain.trimmedLikeTelegram)
                sent += 2
            }
            for message in AnswerFormatter().plainMessages(markdown: answer) {
                _ = try await harness.api.sendMessage(SendMessage(chatID: chatID, text: message))
                sent += 1
            }
        }
        // Full chunks are longer than 4,096 as written (tags, entities): Telegram counts what they show.
        #expect(longerThanTheLimitAsHTML > 10)
        let calls = try await harness.fake.calls(method: "sendMessage")
        #expect(calls.count == sent)
        for call in calls where !call.ok {
            Issue.record("refused: \(call.params["text"].map { "\($0)".prefix(200) } ?? "")")
        }
    }

    @Test func aSplitCodeBlockIsACodeBlockWithItsLanguageInEveryMessage() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let code = (0..<400).map { "let line\($0) = \"<\($0)>\"" }.joined(separator: "\n")
        guard case .messages(let chunks) = AnswerFormatter().format(markdown: "```swift\n" + code + "\n```") else {
            Issue.record("expected messages")
            return
        }
        #expect(chunks.count == 3)
        var shown: [String] = []
        for chunk in chunks {
            let message = try await harness.api.call(
                SendMessage(chatID: 7, text: chunk, parseMode: .html), as: Message.self)
            let text = try #require(message.text)
            let entity = try #require(message.entities?.first)
            #expect(message.entities?.count == 1)
            #expect(entity.type == "pre" && entity.language == "swift" && entity.offset == 0 && entity.length == text.utf16.count)
            shown.append(text)
        }
        #expect(shown.joined(separator: "\n") == code)
    }

    @Test func aTooLongAnswerGoesAsADocumentWithItsPreviewAsCaption() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let answer = "# Results for <T> & co\n\n" + (0..<80).map { "Step \($0): **done** with `a < b` " + String(repeating: "日本語 ", count: 60) }
            .joined(separator: "\n\n")
        guard case .document(let preview, let markdown) = AnswerFormatter(maxMessages: 2).format(markdown: answer) else {
            Issue.record("expected a document")
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/answer.md"
        try markdown.write(toFile: path, atomically: true, encoding: .utf8)
        let message = try await harness.api.sendFile(
            method: "sendDocument", chatID: 9, messageThreadID: nil, caption: preview,
            file: .init(field: "document", path: path, filename: "answer.md", contentType: "text/markdown", size: markdown.utf8.count))
        #expect(message.document?.fileName == "answer.md")
        #expect(message.caption == AnswerFormatter.plainText(html: preview).trimmedLikeTelegram)
        #expect(message.caption?.hasPrefix("Results for <T> & co\n\nStep 0: done with a < b") == true)
    }

    @Test func theFakeRefusesWhatTheFormatterNeverWrites() async throws {
        // The judge is strict: the mistakes the formatter avoids are refused.
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        for (html, error) in [
            ("a < b", #"Unsupported start tag "" at byte offset 2"#),
            ("<div>x</div>", #"Unsupported start tag "div" at byte offset 0"#),
            ("<b>open", #"Can't find end tag corresponding to start tag "b""#),
        ] {
            await #expect(throws: TelegramError.api(code: 400, description: "Bad Request: can't parse entities: " + error, retryAfter: nil, migrateToChatID: nil)) {
                _ = try await harness.api.sendMessage(SendMessage(chatID: 1, text: html, parseMode: .html))
            }
        }
        let escaped = TelegramHTML.render(markdown: "a < b, <div>x</div>, **open")
        let message = try await harness.api.sendMessage(SendMessage(chatID: 1, text: escaped, parseMode: .html))
        #expect(message.text == "a < b, <div>x</div>, **open")
    }
}
