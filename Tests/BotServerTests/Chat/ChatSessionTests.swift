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
        // Longer than one message: the progress message becomes the end-of-run card, which names the model.
        let long = String(repeating: "A line of a long answer.\n", count: 200)
        try await harness.anthropic.script([["text": .string(long + "Answer zero.")], ["text": "Answer one."]])
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

    /// MAX_WARM_SESSIONS=1: a prompt in a second chat stops the first chat's idle CLI, and the
    /// first chat's next prompt resumes its session (Claude still has the earlier turn), as
    /// after the idle timeout. The second chat's CLI then makes room in turn.
    @Test func beyondMaxWarmSessionsTheLeastRecentlyUsedCLIIsStoppedAndResumesLater() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        // The fake answers by turn: each chat's first prompt gets turn 0, a resumed session's next prompt turn 1.
        try await harness.anthropic.script([["text": "Noted."], ["text": "The word was apple."]])
        let (status, log) = try await harness.run(["MAX_WARM_SESSIONS": "1"]) { execution in
            let bot = execution.processIdentifier.value
            try await harness.send("remember the word apple")
            #expect(try await harness.waitForMessage(containing: "Noted.") != nil)
            #expect(await eventually(within: .seconds(10)) { Self.warmCLIs(of: bot).count == 1 })
            let first = try #require(Self.warmCLIs(of: bot).first)

            try await harness.send("hello from another chat", from: ChatHarness.admin)
            #expect(try await harness.waitForMessage(containing: "Noted.", chat: ChatHarness.admin) != nil)
            #expect(await eventually(within: .seconds(15)) { !Self.warmCLIs(of: bot).contains(first) }, "the first chat's CLI was stopped")
            #expect(Self.warmCLIs(of: bot).count == 1, "\(Self.warmCLIs(of: bot))")
            let second = try #require(Self.warmCLIs(of: bot).first)

            try await harness.send("which word?")
            #expect(try await harness.waitForMessage(containing: "The word was apple.") != nil)
            #expect(await eventually(within: .seconds(15)) { !Self.warmCLIs(of: bot).contains(second) }, "the second chat's CLI made room")
            #expect(Self.warmCLIs(of: bot).count == 1)

            let metrics = PrometheusSamples(try await RawHTTPClient.request(port: harness.port, path: "/metrics").bodyText)
            #expect(metrics["botserver_warm_sessions"] == 1)
            #expect(metrics.total("botserver_warm_sessions_stopped_total", ["reason": "limit"]) == 2)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(log.contains("reason=beyond MAX_WARM_SESSIONS (1)"), "\(log.suffix(3000))")
        // Resumed, not started afresh: the last request carries the first chat's earlier turn.
        let last = try #require(try await harness.anthropic.mainRequests().last)
        #expect(last.description.contains("remember the word apple") && last.description.contains("which word?"))
        #expect(!last.description.contains("hello from another chat"))
        #expect(!log.contains("session not found"))
    }

    /// The CLIs the bot runs now: its children whose program is `claude-reaper` (or `claude`,
    /// without a reaper), zombies not counted.
    static func warmCLIs(of bot: pid_t) -> Set<pid_t> {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: Set<pid_t> = []
        for entry in entries {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm) ": state, then ppid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", pid_t(fields[1]) == bot,
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                let program = cmdline.split(separator: 0).first.map({ String(decoding: $0, as: UTF8.self) })
            else { continue }
            if program.split(separator: "/").last?.hasPrefix("claude") == true { found.insert(pid) }
        }
        return found
    }
}
