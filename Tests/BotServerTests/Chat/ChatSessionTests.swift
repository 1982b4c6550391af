import ClaudeRunner
import Foundation
import Testing
import TestSupport

/// Sessions from the phone: /new, /sessions and picking one to continue, /model, and
/// Claude's own commands passed through.
@Suite(.serialized) struct ChatSessionTests {
    @Test func anEarlierSessionIsListedPickedAndContinuedWithItsHistory() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "Answer zero."], ["text": "Answer one."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("alpha topic")
            #expect(try await harness.waitForMessage(containing: "Answer zero.") != nil)
            try await harness.send("/new")
            #expect(try await harness.waitForMessage(containing: "New session") != nil)
            try await harness.send("beta topic")
            #expect(try await harness.waitForCall("sendMessage") { ($0.text ?? "").contains("Answer zero.") && $0.seq > 0 } != nil)
            #expect(await eventually(within: .seconds(20)) {
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["text"] as? String)?.contains("Answer zero.") == true }.count == 2
            })

            try await harness.send("/model sonnet")
            #expect(try await harness.waitForMessage(containing: "Model is now sonnet") != nil)
            try await harness.send("/sessions")
            let list = try #require(try await harness.waitForMessage(containing: "Recent sessions"))
            let rows = (list["reply_markup"] as? [String: Any])?["inline_keyboard"] as? [[[String: Any]]] ?? []
            let labels = rows.joined().compactMap { $0["text"] as? String }
            #expect(labels.count == 2)
            #expect(labels.first?.hasPrefix("● beta topic") == true, "\(labels)")  // newest first, the current one marked
            #expect(labels.last?.contains("alpha topic") == true && labels.last?.contains("$") == true)
            try await harness.tap(try #require(ChatHarness.button("alpha topic", in: list)), on: ChatHarness.messageID(list))
            #expect(try await harness.waitForMessage(containing: "Resumed alpha topic") != nil)

            try await harness.send("and more")
            #expect(try await harness.waitForMessage(containing: "Answer one.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let last = try #require(try await harness.anthropic.mainRequests().last)
        #expect(last.description.contains("alpha topic") && last.description.contains("and more"))
        #expect(!last.description.contains("beta topic"))
        #expect(last["model"]?.string?.contains("sonnet") == true, "\(last["model"] ?? .null)")
    }

    @Test func claudesOwnCommandsArePassedThrough() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "Hi."], ["text": "Context shown."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("hello")
            #expect(try await harness.waitForMessage(containing: "Hi.") != nil)
            try await harness.send("/compact")
            // A second run ends: the CLI took /compact as its own command.
            #expect(await eventually(within: .seconds(60)) {
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["text"] as? String)?.hasPrefix("✅ Done") == true }.count == 2
            })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!log.contains("I don't know /compact"))
    }
}
