import ClaudeRunner
import Foundation
import Testing
import TestSupport

/// Answers are stored before the run is marked concluded and sent from the store: a bot
/// killed between Claude's result and Telegram's receipt delivers the answer after its
/// restart, once. The fake Bot API holds or fails exactly the call that carries the answer.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ChatDeliveryTests {
    /// Every successful call whose text carries `marker`, and the messages that show it.
    private static func deliveries(of marker: String, in harness: ChatHarness, chat: Int64 = ChatHarness.user) async throws
        -> (calls: Int, messages: Int)
    {
        let calls = try await harness.bot.calls().filter {
            $0.ok && ["sendMessage", "editMessageText"].contains($0.method) && ($0.text?.contains(marker) ?? false)
        }
        let messages = try await harness.bot.messages(chat: chat).filter { ($0["text"] as? String)?.contains(marker) == true }
        return (calls.count, messages.count)
    }

    /// `respond` answers every call carrying the answer until the bot is killed; then the
    /// fault ends and the bot starts again.
    private static func killWhileTheAnswerFails(
        _ respond: [String: Any], chat: Int64 = ChatHarness.user, prompt: String = "What is the answer?"
    ) async throws -> ChatHarness {
        let harness = try await ChatHarness.start()
        try await harness.anthropic.script([["text": "The answer is forty-two."]])
        // The footer ("✅ 0 s · $0.00") is in the answer's message only: the progress message
        // may show the partial answer too, but never that.
        let footer = "<i>✅ "
        try await harness.bot.script(textContains: footer, times: 1000, respond: respond)
        let first = try await harness.run { execution in
            // In a group the bot answers a mention, once it knows its own name.
            #expect(try await harness.waitForCall("getMe") != nil)
            try await harness.send(prompt, chat: chat)
            // Telegram has had the answer's call once (and failed it or holds it): the answer
            // was stored before that call was made.
            #expect(await eventually(within: .seconds(60)) {
                (try? await harness.bot.calls().contains { "\($0.params["text"] ?? "")".contains(footer) }) ?? false
            })
            try execution.send(signal: .kill)
        }
        #expect(first.status == .signaled(SIGKILL), "\(first.log.suffix(2000))")
        try await harness.bot.clearScripts()
        return harness
    }

    /// The restarted bot delivers the answer: one successful call carries it, one message shows it.
    private static func expectTheAnswerOnceAfterTheRestart(_ harness: ChatHarness) async throws {
        let (status, log) = try await harness.run { _ in
            let answer = try await harness.waitForMessage(containing: "forty-two", within: .seconds(30))
            #expect(answer != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let delivered = try await deliveries(of: "forty-two", in: harness)
        #expect(delivered.calls == 1 && delivered.messages == 1, "calls \(delivered.calls), messages \(delivered.messages)")
    }

    @Test func anAnswerTelegramFailedWith5xxArrivesOnceAfterAKill() async throws {
        let harness = try await Self.killWhileTheAnswerFails(["status": 500])
        defer { harness.stop() }
        try await Self.expectTheAnswerOnceAfterTheRestart(harness)
        // The run was concluded with its answer: nothing says it was interrupted.
        let texts = try await harness.bot.messages(chat: ChatHarness.user).compactMap { $0["text"] as? String }
        #expect(!texts.contains { $0.contains("restarted while Claude was working") }, "\(texts)")
    }

    @Test func anAnswerCutOffOnTheNetworkArrivesOnceAfterAKill() async throws {
        // The call reaches the fake, which neither carries it out nor answers: a lost connection.
        let harness = try await Self.killWhileTheAnswerFails(["hang": 60])
        defer { harness.stop() }
        try await Self.expectTheAnswerOnceAfterTheRestart(harness)
    }

    /// Telegram fails the approval question more times than one request is retried: the
    /// question is asked again while Claude waits, instead of being denied unseen.
    @Test func anApprovalQuestionTelegramFailsIsAskedAgainWhileClaudeWaits() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/asked.txt"
        try await harness.anthropic.script([
            ["text": "Writing it.", "tool_use": ["name": "Write", "input": ["file_path": .string(file), "content": "yes\n"]]],
            ["text": "Written after all."],
        ])
        // Six failures: more than the outbox's five attempts for one request.
        try await harness.bot.script(method: "sendMessage", textContains: "Claude wants to", times: 6, respond: ["status": 502])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Write asked.txt")
            try await harness.approve("write")
            #expect(try await harness.waitForMessage(containing: "Written after all.", within: .seconds(60)) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "yes\n")
        let asked = try await harness.bot.calls(method: "sendMessage").filter { $0.text?.contains("Claude wants to") == true }
        #expect(asked.filter { $0.status == 502 }.count == 6 && asked.filter(\.ok).count == 1)
    }

    /// In a group the answer replaces the progress message, so it is an edit: one that Telegram
    /// carried out but whose answer the bot never got is sent again after the restart, and
    /// changes nothing. The chat shows the answer once.
    @Test func anAnswerEditTelegramCarriedOutIsNotShownTwice() async throws {
        let group: Int64 = -100_777
        let harness = try await Self.killWhileTheAnswerFails(["delay": 60], chat: group, prompt: "@fake_bot What is the answer?")
        defer { harness.stop() }
        let (status, log) = try await harness.run { _ in
            // The resend reaches Telegram (and changes nothing).
            #expect(await eventually(within: .seconds(30)) {
                (try? await harness.bot.calls(method: "editMessageText").filter { $0.text?.contains("forty-two") == true }.count) ?? 0 >= 2
            })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let messages = try await harness.bot.messages(chat: group).filter { ($0["text"] as? String)?.contains("forty-two") == true }
        #expect(messages.count == 1)
        #expect(try await harness.bot.calls(method: "sendMessage").filter { $0.text?.contains("forty-two") == true }.isEmpty)
    }
}

/// What a simple prompt costs in Telegram calls, and how a cancel looks.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ChatMessageEconomyTests {
    /// Two one-line answers (the second on a warm session): each is at most two new messages,
    /// the chat ends with one message per answer, and no call is a no-op edit or earns a 429.
    @Test func aSimplePromptIsAtMostTwoNewMessagesAndNoWastedCall() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "First answer."], ["text": "Second answer."]])
        let (status, log) = try await harness.run { _ in
            var before = 0
            for (prompt, answer) in [("one", "First answer."), ("two", "Second answer.")] {
                try await harness.send(prompt)
                #expect(try await harness.waitForMessage(containing: answer) != nil)
                // Its progress message makes way for it (or became it).
                #expect(await eventually {
                    let messages = (try? await harness.bot.messages(chat: ChatHarness.user)) ?? []
                    return !messages.contains { ($0["text"] as? String)?.contains("Working") == true }
                })
                let sends = try await harness.bot.calls(method: "sendMessage").filter(\.ok).count
                #expect(sends - before <= 2, "new messages for “\(prompt)”: \(sends - before)")
                before = sends
            }
            let texts = try await harness.bot.messages(chat: ChatHarness.user).compactMap { $0["text"] as? String }
            #expect(texts.count == 2, "\(texts)")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let calls = try await harness.bot.calls()
        let wasted = calls.filter { $0.status == 400 || $0.status == 429 }
        #expect(wasted.isEmpty, "\(wasted.map { "\($0.method) \($0.status)" })")
    }

    /// Cancel by the button: the tap is answered "Stopping", the progress message says so and
    /// ends as the Cancelled card; no other message is sent about it.
    @Test func aCancelIsTheProgressMessageEndingCancelled() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["hang": true]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("A long job")
            let progress = try #require(try await harness.waitForMessage(containing: "Working"))
            #expect(await eventually(within: .seconds(10)) { (try? await harness.anthropic.mainRequests().count) ?? 0 >= 1 })
            let sentBefore = try await harness.bot.calls(method: "sendMessage").filter(\.ok).count
            let cancel = try #require(ChatHarness.button("Cancel", in: progress))
            try await harness.tap(cancel, on: ChatHarness.messageID(progress))
            let answered = try await harness.waitForCall("answerCallbackQuery")
            #expect((answered?.params["text"] as? String)?.contains("Stopping") == true)
            let card = try await harness.waitForMessage(containing: "Cancelled")
            #expect(ChatHarness.messageID(card) == ChatHarness.messageID(progress))
            #expect(ChatHarness.button("Cancel", in: card) == nil)
            #expect(try await harness.bot.calls(method: "sendMessage").filter(\.ok).count == sentBefore)
            #expect(await eventually {
                let reactions = (try? await harness.bot.reactions(chat: ChatHarness.user)) ?? [:]
                return reactions.values.contains { (($0 as? [[String: Any]])?.first?["emoji"] as? String) == "🕊" }
            })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }
}

/// What the bot sends at shutdown, and how it paces a long answer.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ChatDeliveryPacingTests {
    /// SIGTERM while the answer is being retried (Telegram failed it twice): the bot sends it
    /// before it exits, within its grace period, and a restart does not send it again.
    @Test func sigtermSendsTheQueuedAnswerBeforeExiting() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "Sent before the bot stopped."]])
        try await harness.bot.script(textContains: ChatRunControlTests.footer, times: 2, respond: ["status": 500])
        let (status, log) = try await harness.run(["SHUTDOWN_GRACE_SECONDS": "20"]) { execution in
            try await harness.send("Answer, then stop")
            #expect(await eventually(within: .seconds(60)) {
                (try? await harness.bot.calls().contains { $0.status == 500 }) ?? false
            })
            try execution.send(signal: .terminate)
            #expect(await ChatRunControlTests.exit(of: execution.processIdentifier.value, within: .seconds(30)))
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        // Delivered by the bot that was stopping: no restart has happened yet.
        let delivered = try await harness.bot.calls().filter { $0.ok && $0.method != "sendMessageDraft" && $0.text?.contains("Sent before") == true }
        #expect(delivered.count == 1)
        try await harness.run { _ in
            // A later barrier: /status answered means the restart's resend would have gone first.
            try await harness.send("/status")
            #expect(try await harness.waitForMessage(containing: "Project") != nil)
        }
        let afterRestart = try await harness.bot.calls().filter { $0.method != "sendMessageDraft" && $0.text?.contains("Sent before") == true }
        #expect(afterRestart.filter(\.ok).count == 1, "not sent again after the restart")
    }

    /// A long streamed answer (about 12 s of text, progress edited throughout) with the fake Bot
    /// API's default flood limits: not one 429, in a private chat or in a group.
    @Test func aLongStreamedAnswerEarnsNo429InAPrivateChatOrAGroup() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let paragraph = String(repeating: "A sentence of a long answer that streams for a while. ", count: 60)
        // Each conversation's first turn is the script's first: the same answer in both chats.
        try await harness.anthropic.script([["text": .string(paragraph + "The end."), "delay_ms": 200, "chunks": 60]])
        let group: Int64 = -100_555
        let (status, log) = try await harness.run(["PROGRESS_EDIT_INTERVAL_MS": "1000"]) { _ in
            try await harness.send("Tell me at length")
            #expect(try await harness.waitForMessage(containing: "The end.", within: .seconds(60)) != nil)
            #expect(try await harness.waitForCall("getMe") != nil)
            try await harness.send("@fake_bot tell me at length", chat: group)
            #expect(try await harness.waitForMessage(containing: "The end.", chat: group, within: .seconds(90)) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let calls = try await harness.bot.calls()
        let refused = calls.filter { !$0.ok && $0.method != "getUpdates" }
        #expect(refused.isEmpty, "no 429, and no other refusal: \(refused.map { "\($0.method) \($0.status)" })")
        // It was paced, not silent: the progress message was edited while the text streamed.
        #expect(calls.filter { $0.method == "editMessageText" && $0.chatID == group }.count >= 2)
        #expect(calls.filter { $0.method == "sendMessageDraft" && $0.ok }.count >= 2)
    }
}
