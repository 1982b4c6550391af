import ClaudeRunner
import Foundation
import Subprocess
import Testing
import TestSupport

/// Runs under control: cancel, status and taps during a run, two chats at once, a prompt
/// while busy, forwarded messages, and a restart in the middle of a run.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatRunControlTests {
    /// A command Claude Code asks about (sleep alone it runs without asking).
    private static func python(_ statement: String) -> String { "python3 -c 'import time; \(statement)'" }

    private static func bash(_ command: String, text: String = "Running it.") -> JSONValue {
        ["text": .string(text), "tool_use": ["name": "Bash", "input": ["command": .string(command), "description": "wait"]]]
    }

    @Test func statusAndCancelAreAnsweredDuringARunAndTheProcessGroupIsGone() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let marker = "time.sleep(61.25)"
        try await harness.anthropic.script([Self.bash(Self.python(marker)), ["text": "unreachable"]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Wait a minute")
            try await harness.approve("run:\npython3")
            #expect(try await harness.waitForMessage(containing: "Running: python3") != nil)
            #expect(await eventually(within: .seconds(10)) { !processes(commandLineContaining: marker).isEmpty })

            try await harness.send("/status")
            #expect(try await harness.waitForMessage(containing: "Running for", within: .seconds(5)) != nil)
            let progress = try await harness.waitForMessage(containing: "Working")
            let cancel = try #require(ChatHarness.button("Cancel", in: progress))
            try await harness.tap(cancel, on: ChatHarness.messageID(progress))
            let clock = ContinuousClock()
            let tapped = clock.now
            #expect(await eventually(within: .seconds(5)) { processes(commandLineContaining: marker).isEmpty }, "the tool outlived /cancel")
            #expect(clock.now - tapped < .seconds(5))
            #expect(try await harness.waitForMessage(containing: "Cancelled") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func theStopButtonOfTheStreamedDraftCancelsTheRun() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([Self.bash(Self.python("time.sleep(63.5)"), text: "Streaming some words first."), ["text": "x"]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Go")
            try await harness.approve("run:\npython3")
            #expect(await eventually(within: .seconds(10)) { !processes(commandLineContaining: "time.sleep(63.5)").isEmpty })
            let draft = try #require(try await harness.bot.drafts(chat: ChatHarness.user).first)
            #expect(draft["can_stop"] as? Bool == true)
            // As observed on the wire: draft_id as a string.
            try await harness.post([
                "update_id": 77_001,
                "stopped_message_generation": [
                    "chat": ["id": ChatHarness.user, "type": "private"], "draft_id": "\(draft["draft_id"] ?? 0)",
                ] as [String: Any],
            ])
            #expect(try await harness.waitForMessage(containing: "Cancelled") != nil)
            #expect(await eventually(within: .seconds(5)) { processes(commandLineContaining: "time.sleep(63.5)").isEmpty })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func twoChatsRunAtOnce() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([Self.bash(Self.python("time.sleep(2.75)")), ["text": "Finished waiting."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Wait for me", from: ChatHarness.user)
            try await harness.send("Wait for me too", from: ChatHarness.admin)
            try await harness.approve("run:\npython3", chat: ChatHarness.user)
            try await harness.approve("run:\npython3", chat: ChatHarness.admin)
            // Both are working on the tool before either has finished.
            #expect(try await harness.waitForMessage(containing: "Running: python3", chat: ChatHarness.user) != nil)
            #expect(try await harness.waitForMessage(containing: "Running: python3", chat: ChatHarness.admin) != nil)
            let answersSoFar = try await harness.bot.calls(method: "sendMessage").filter { ($0.text ?? "").contains("Finished waiting") }
            #expect(answersSoFar.isEmpty, "one chat finished before the other had started its tool")
            #expect(try await harness.waitForMessage(containing: "Finished waiting", chat: ChatHarness.user) != nil)
            #expect(try await harness.waitForMessage(containing: "Finished waiting", chat: ChatHarness.admin) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func aPromptDuringARunIsQueuedAndSendNowInterruptsForIt() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        // After an interrupted tool call the transcript holds one or two more assistant turns.
        try await harness.anthropic.script([Self.bash(Self.python("time.sleep(62.5)")), ["text": "Second answer."], ["text": "Second answer."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("First task")
            try await harness.approve("run:\npython3")
            #expect(try await harness.waitForMessage(containing: "Running: python3") != nil)
            try await harness.send("And then this")
            try await harness.send("and this too")
            let notice = try #require(try await harness.waitForMessage(containing: "Queued"))
            let sendNow = try #require(ChatHarness.button("Send now", in: notice))
            try await harness.tap(sendNow, on: ChatHarness.messageID(notice))
            #expect(try await harness.waitForMessage(containing: "Cancelled") != nil)
            let second = try await harness.waitForMessage(containing: "Second answer")
            let sent = try await harness.bot.messages(chat: ChatHarness.user).map { $0["text"] as? String ?? "" }
            #expect(second != nil, "\(sent)")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let requests = try await harness.anthropic.mainRequests()
        #expect(requests.last.map { $0.description.contains("And then this") && $0.description.contains("and this too") } == true)
    }

    /// A reply sent while the previous answer is still being delivered (here: its call held
    /// 2 s by the fake) is not "queued" behind a run that is over: it waits for the delivery,
    /// then runs as itself, and is timed like any prompt.
    @Test func aPromptOrNewSentWhileTheAnswerIsDeliveredWaitsForIt() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "First answer."], ["text": "Second answer."], ["text": "Third answer."]])
        let (status, log) = try await harness.run { _ in
            // The answer's call (the only one with the footer) is held: the run is concluding.
            try await harness.bot.script(textContains: Self.footer, times: 1, respond: ["delay": 2])
            try await harness.send("one")
            #expect(await eventually(within: .seconds(30)) { await Self.answersOnTheirWay(harness) == 1 })
            try await harness.send("two")
            #expect(try await harness.waitForMessage(containing: "Second answer.") != nil)
            let notices = try await harness.bot.calls(method: "sendMessage").filter { $0.text?.contains("Queued") == true }
            #expect(notices.isEmpty, "no queued notice for a run that had answered")
            #expect(try await harness.bot.calls().contains { $0.ok && $0.text?.contains("First answer.") == true && $0.method != "sendMessageDraft" })
            let scrape = try await RawHTTPClient.request(port: harness.port, path: "/metrics")
            let samples = PrometheusSamples(scrape.bodyText)
            #expect(samples.total("botserver_update_to_prompt_written_seconds_count") == 2)
            // The second went to the process the first had started.
            #expect(samples.total("botserver_update_to_prompt_written_seconds_count", ["process": "running"]) == 1)

            // /new in the same moment: it waits for the delivery too, instead of being refused.
            try await harness.bot.script(textContains: Self.footer, times: 1, respond: ["delay": 2])
            try await harness.send("three")
            #expect(await eventually(within: .seconds(30)) { await Self.answersOnTheirWay(harness) == 3 }, "the third run is concluding")
            try await harness.send("/new")
            #expect(try await harness.waitForMessage(containing: "New session") != nil)
            let texts = try await harness.bot.calls().filter { $0.method != "sendMessageDraft" }.compactMap(\.text)
            #expect(!texts.contains { $0.contains("still working") }, "\(texts)")
            #expect(texts.contains { $0.contains("Third answer.") })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    /// The footer under a short answer ("✅ 0 s · $0.00"), as the bot writes it.
    static let footer = "<i>✅ "

    /// Answers that reached the fake Bot API (in flight or answered): calls with the footer.
    private static func answersOnTheirWay(_ harness: ChatHarness) async -> Int {
        let calls = (try? await harness.bot.calls()) ?? []
        return calls.filter { ($0.params["text"] as? String)?.contains(footer) == true }.count
    }

    @Test func forwardedMessagesArrivingTogetherAreOnePrompt() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "Read both."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("first forwarded part", forwarded: true)
            try await harness.send("second forwarded part", forwarded: true)
            #expect(try await harness.waitForMessage(containing: "Read both") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let requests = try await harness.anthropic.mainRequests()
        #expect(requests.count == 1)
        #expect(requests.first.map { $0.description.contains("first forwarded part") && $0.description.contains("second forwarded part") } == true)
        // In the prompt itself, not merely somewhere in the request.
        let prompt = requests.first?["last_user_text"]?.string ?? ""
        #expect(prompt.contains("first forwarded part") && prompt.contains("second forwarded part"), "\(prompt)")
    }

    @Test func aRunCutOffByKill9IsReportedAfterRestartAndResumes() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["hang": true]])
        let first = try await harness.run { execution in
            try await harness.send("A long job")
            #expect(try await harness.waitForMessage(containing: "Working") != nil)
            #expect(await eventually(within: .seconds(30)) { (try? await harness.anthropic.mainRequests().count) ?? 0 >= 1 })
            try execution.send(signal: .kill)
        }
        #expect(first.status == .signaled(SIGKILL))
        // Its CLI, still waiting for the API, does not outlive it: the reaper ends it (within about 6 s).
        #expect(await eventually(within: .seconds(20)) { processes(workingIn: harness.project).isEmpty },
            "still running in the project: \(processes(workingIn: harness.project))")

        // The resumed transcript holds the cut-off turn, so the answer may be asked as turn 0 or 1.
        try await harness.anthropic.script([["text": "Resumed and finished."], ["text": "Resumed and finished."]])
        let (status, log) = try await harness.run { _ in
            let report = try #require(try await harness.waitForMessage(containing: "restarted while Claude was working"))
            #expect(try await harness.waitForMessage(containing: "Interrupted") != nil)  // the old progress message
            let resume = try #require(ChatHarness.button("Resume", in: report))
            try await harness.tap(resume, on: ChatHarness.messageID(report))
            let resumed = try await harness.waitForMessage(containing: "Resumed and finished", within: .seconds(30))
            let sent = try await harness.bot.messages(chat: ChatHarness.user).map { $0["text"] as? String ?? "" }
            #expect(resumed != nil, "\(sent)")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        // Reported once: a third start says nothing more.
        try await harness.run { _ in try await Task.sleep(for: .milliseconds(500)) }
        let reports = try await harness.bot.messages(chat: ChatHarness.user).filter { ($0["text"] as? String)?.contains("restarted while") == true }
        #expect(reports.count == 1)
    }

    /// /cancel typed (not the button): the tool's process is gone within 5 s, and the message
    /// queued behind the run is dropped with it, never reaching Claude.
    @Test func cancelTypedDuringARunStopsTheToolAndDropsTheQueuedMessage() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let marker = "time.sleep(64.75)"
        try await harness.anthropic.script([Self.bash(Self.python(marker)), ["text": "Answered the queued one."], ["text": "Answered the queued one."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Wait a minute")
            try await harness.approve("run:\npython3")
            #expect(await eventually(within: .seconds(10)) { !processes(commandLineContaining: marker).isEmpty })
            try await harness.send("queued behind the run")
            #expect(try await harness.waitForMessage(containing: "Queued") != nil)

            try await harness.send("/cancel")
            let clock = ContinuousClock()
            let sent = clock.now
            #expect(await eventually(within: .seconds(5)) { processes(commandLineContaining: marker).isEmpty }, "the tool outlived /cancel")
            #expect(clock.now - sent < .seconds(5))
            #expect(try await harness.waitForMessage(containing: "queued message was discarded") != nil)
            #expect(try await harness.waitForMessage(containing: "Queued message discarded by /cancel") != nil)
            #expect(try await harness.waitForMessage(containing: "Cancelled") != nil)
            // Time for a queued prompt that was wrongly kept to start after the cancelled run.
            try await Task.sleep(for: .seconds(3))
            let texts = try await harness.bot.messages(chat: ChatHarness.user).compactMap { $0["text"] as? String }
            #expect(!texts.contains { $0.contains("Answered the queued one") }, "\(texts)")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let requests = try await harness.anthropic.mainRequests()
        #expect(!requests.isEmpty)
        #expect(!requests.contains { $0.description.contains("queued behind the run") }, "the dropped message reached Claude")
    }

    /// Exited (a zombie, or already reaped), asked of the kernel without reaping it.
    static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return true }
        return info._sifields._sigchld.si_pid == pid
    }

    /// Whether `pid` exits within `limit` (from now).
    static func exit(of pid: pid_t, within limit: Duration) async -> Bool {
        let clock = ContinuousClock()
        let start = clock.now
        let exited = await eventually(within: limit) { hasExited(pid) }
        return exited && clock.now - start < limit
    }

    /// SIGTERM while a tool runs: the bot exits 0 within its grace period (plus slack for a
    /// loaded machine), takes the CLI and the tool with it, and after the restart tells the chat
    /// the run was interrupted.
    @Test func sigtermDuringAToolExitsWithinTheGraceAndTheRunIsReportedAfterRestart() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let marker = "time.sleep(65.25)"
        let grace = 5
        try await harness.anthropic.script([Self.bash(Self.python(marker)), ["text": "unreachable"]])
        let (first, firstLog) = try await harness.run(["SHUTDOWN_GRACE_SECONDS": "\(grace)"]) { execution in
            try await harness.send("A long job")
            try await harness.approve("run:\npython3")
            #expect(await eventually(within: .seconds(10)) { !processes(commandLineContaining: marker).isEmpty })
            #expect(try await harness.waitForMessage(containing: "Running: python3") != nil)
            try execution.send(signal: .terminate)
            // Waits here, so that run's own SIGTERM after this body comes too late to matter.
            let exited = await Self.exit(of: execution.processIdentifier.value, within: .seconds(grace + 10))
            #expect(exited, "still running \(grace + 10) s after SIGTERM")
        }
        #expect(first == .exited(0), "\(firstLog.suffix(3000))")
        #expect(await eventually(within: .seconds(10)) { processes(commandLineContaining: marker).isEmpty }, "the tool outlived the bot")
        #expect(await eventually(within: .seconds(10)) { processes(workingIn: harness.project).isEmpty },
            "still running in the project: \(processes(workingIn: harness.project))")

        let (status, log) = try await harness.run { _ in
            let report = try await harness.waitForMessage(containing: "restarted while Claude was working")
            #expect(report != nil)
            let progress = try await harness.waitForMessage(containing: "Interrupted")  // the old progress message
            #expect(progress != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    /// With FORWARD_COLLECT_MS=0 nothing waits for more forwarded messages: two are two prompts.
    @Test func withoutACollectWindowTwoForwardedMessagesAreTwoPrompts() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "Read the first."], ["text": "Read the second."]])
        let (status, log) = try await harness.run(["FORWARD_COLLECT_MS": "0"]) { _ in
            try await harness.send("first forwarded part", forwarded: true)
            try await harness.send("second forwarded part", forwarded: true)
            #expect(try await harness.waitForMessage(containing: "Read the first") != nil)
            #expect(try await harness.waitForMessage(containing: "Read the second") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let texts = try await harness.anthropic.mainRequests().map { $0["last_user_text"]?.string ?? "" }
        #expect(texts.count == 2, "\(texts)")
        #expect(texts.first.map { $0.contains("first forwarded part") && !$0.contains("second forwarded part") } == true, "\(texts)")
        #expect(texts.last.map { $0.contains("second forwarded part") && !$0.contains("first forwarded part") } == true, "\(texts)")
    }
}
