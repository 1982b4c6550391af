import ClaudeRunner
import Foundation
import Testing
import TestSupport

/// Sessions from the phone: /new, /sessions and picking one to continue, /model, and
/// Claude's own commands passed through.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatSessionTests {
    @Test func anEarlierSessionIsListedPickedAndContinuedWithItsHistory() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "Answer zero."], ["text": "Answer one."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("alpha topic")
            #expect(try await harness.waitForMessage(containing: "Answer zero.") != nil)
            // /status names the model as the end-of-run card does (the name the CLI reported).
            try await harness.send("/status")
            let status = try #require(try await harness.waitForMessage(containing: "Idle"))
            let statusText = status["text"] as? String ?? ""
            let model = try #require(statusText.components(separatedBy: "Model ").last?.components(separatedBy: "\n").first)
            let card = try #require(try await harness.waitForMessage(containing: "Done"))
            #expect(model != "default" && (card["text"] as? String)?.contains(model) == true, "status: \(statusText), card: \(card)")
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
            // Picked: the list's buttons are gone.
            #expect(await eventually(within: .seconds(10)) {
                let shown = try? await harness.bot.messages(chat: ChatHarness.user).first { ChatHarness.messageID($0) == ChatHarness.messageID(list) }
                return shown != nil && ChatHarness.button("alpha topic", in: shown) == nil
            })

            try await harness.send("and more")
            #expect(try await harness.waitForMessage(containing: "Answer one.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let last = try #require(try await harness.anthropic.mainRequests().last)
        #expect(last.description.contains("alpha topic") && last.description.contains("and more"))
        #expect(!last.description.contains("beta topic"))
        #expect(last["model"]?.string?.contains("sonnet") == true, "\(last["model"] ?? .null)")
    }

    /// A usage limit that says when it resets offers "Continue at"; the continuation is kept
    /// across a restart, shown by /status, runs at the reset, and /cancel calls one off.
    @Test func aUsageLimitContinuesByItselfAtTheResetEvenAfterARestart() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        // No retries: the CLI reports the 429 at once. No margin after the reset time.
        let environment = ["CLAUDE_CODE_MAX_RETRIES": "0", "CONTINUE_AFTER_RESET_SECONDS": "0"]
        func limit(resetIn seconds: Int64) -> (epoch: Int64, turn: JSONValue) {
            let epoch = Int64(Date().timeIntervalSince1970) + seconds
            return (epoch, ["error": ["status": 429, "message": .string("Claude AI usage limit reached|\(epoch)")], "times": 1])
        }
        /// The newest failure report's button (the progress card says it too, without one).
        func continueButton() async throws -> (data: String, message: Int64) {
            var report: [String: Any]?
            _ = await eventually(within: .seconds(30)) {
                report = ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).last { ChatHarness.button("Continue at", in: $0) != nil }
                return report != nil
            }
            return (try #require(ChatHarness.button("Continue at", in: report)), ChatHarness.messageID(report))
        }

        var resetsAt: Int64 = 0
        let (first, firstLog) = try await harness.run(environment) { _ in
            // Reset well after this bot has stopped: the continuation must come from the next one.
            let (epoch, turn) = limit(resetIn: 25)
            resetsAt = epoch
            try await harness.anthropic.script([turn, ["text": "Picked up where I stopped."]])
            try await harness.send("a long job")
            let (button, message) = try await continueButton()
            try await harness.tap(button, on: message)
            #expect(try await harness.waitForMessage(containing: "I'll continue at") != nil)
            try await harness.send("/status")
            #expect(try await harness.waitForMessage(containing: "Continues by itself") != nil)
        }
        #expect(first == .exited(0), "\(firstLog.suffix(3000))")
        try #require(Int64(Date().timeIntervalSince1970) < resetsAt, "the first bot outlived the reset time: the test proves nothing")
        #expect(try await harness.anthropic.mainRequests().count == 1, "nothing ran before the reset")

        let (second, log) = try await harness.run(environment) { _ in
            #expect(try await harness.waitForMessage(containing: "Picked up where I stopped.", within: .seconds(40)) != nil)
            #expect(Int64(Date().timeIntervalSince1970) >= resetsAt, "not before the reset")

            // Called off: another limit, a tap, /cancel; nothing runs at that reset.
            let (epoch, turn) = limit(resetIn: 15)
            try await harness.anthropic.script([["text": "(turn 0)"], turn, ["text": "Must not run."]])
            try await harness.send("more work")
            let (button, message) = try await continueButton()
            try await harness.tap(button, on: message)
            #expect(await eventually(within: .seconds(30)) {
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["text"] as? String)?.contains("I'll continue at") == true }.count == 2
            })
            try #require(Int64(Date().timeIntervalSince1970) < epoch, "the reset came before /cancel: the test proves nothing")
            try await harness.send("/cancel")
            let calledOff = try await harness.waitForMessage(containing: "is called off")
            let lastTexts = try await harness.bot.messages(chat: ChatHarness.user).suffix(4).map { $0["text"] as? String ?? "" }
            #expect(calledOff != nil, "\(lastTexts)")
            let requests = try await harness.anthropic.mainRequests().count
            while Int64(Date().timeIntervalSince1970) <= epoch + 2 { try await Task.sleep(for: .milliseconds(200)) }
            #expect(try await harness.anthropic.mainRequests().count == requests, "the called-off continuation did not run")
            #expect(try await harness.waitForMessage(containing: "Must not run.", within: .milliseconds(100)) == nil)
        }
        #expect(second == .exited(0), "\(log.suffix(3000))")
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
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["raw_text"] as? String)?.contains("<i>✅ ") == true }.count == 2
            })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!log.contains("I don't know /compact"))
    }
}
