import ClaudeRunner
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

/// The real Claude Code CLI (scripts/install-claude-cli.sh) against the fake Messages API.
/// Serialized: each test starts a 400 MB binary, and two cores are shared with the rest.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ClaudeSessionTests {
    static let logger: Logger = {
        var logger = Logger(label: "claude-test")
        logger.logLevel = .critical
        return logger
    }()

    private func session(
        _ sandbox: ClaudeSandbox, delegate: any PermissionDelegate = ScriptedDelegate.allowAll(),
        options: SessionOptions? = nil, configure: (inout ClaudeConfiguration) -> Void = { _ in }
    ) -> ClaudeSession {
        ClaudeSession(
            configuration: sandbox.configuration(configure), options: options ?? sandbox.options(),
            delegate: delegate, logger: Self.logger)
    }

    @Test func aTextTurnStreamsAndEndsWithItsResult() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "Hello from the fake model, streamed in pieces.", "chunks": 5]])
        let options = sandbox.options()
        let claude = session(sandbox, options: options)
        let (events, outcome) = try await claude.send(.text("say hello")).collect()
        let result = try #require(outcome?.result)
        #expect(!result.isError)
        #expect(result.result == "Hello from the fake model, streamed in pieces.")
        #expect(result.sessionID == options.sessionID, "the id chosen up front is the CLI's")
        #expect(events.contains { if case .initialized(let initialized) = $0 { initialized.sessionID == options.sessionID } else { false } })
        let deltas = events.compactMap { if case .textDelta(let text) = $0 { text } else { nil } }
        #expect(deltas.count > 1)
        #expect(deltas.joined() == result.result)

        // What reached the API: Claude Code's own system prompt with our note appended, and
        // none of the bot's secrets in the CLI's environment.
        let request = try #require(try await sandbox.api.mainRequests().first)
        let system = request["body"]?["system"]?.description ?? ""
        #expect(system.contains("Telegram"))
        #expect(system.count > 3000, "Claude Code's own prompt is kept, not replaced")
        let pid = try #require(await claude.processID)
        let environment = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data(), as: UTF8.self)
        #expect(!environment.contains("TELEGRAM_BOT_TOKEN"))
        #expect(environment.contains("CLAUDE_CODE_MAX_RETRIES=1"))
        await claude.stop()
    }

    /// The prompt is written by `send` itself: in the pipe when it returns, even while the CLI
    /// is still being spawned (it reads the message when it starts), so no task's wake-up is
    /// on the prompt's path.
    @Test func aMessageIsInThePipeWhenSendReturnsWhetherTheCLIRunsOrIsStartedForIt() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "First answer."], ["text": "Second answer."]])
        let claude = session(sandbox)
        let reports = Mutex<[ClaudeSession.MessageWritten]>([])
        let first = try await claude.send(.text("one")) { written in reports.withLock { $0.append(written) } }
        #expect(reports.withLock { $0.map(\.startedProcess) } == [true])
        #expect(await first.collect().outcome?.result?.result == "First answer.")

        let second = try await claude.send(.text("two")) { written in reports.withLock { $0.append(written) } }
        #expect(reports.withLock { $0.map(\.startedProcess) } == [true, false])
        #expect(await second.collect().outcome?.result?.result == "Second answer.")
        await claude.stop()
    }

    @Test func anApprovedWriteWritesTheFileAndADeniedOneDoesNot() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let approved = sandbox.repository + "/approved.txt"
        let denied = sandbox.repository + "/denied.txt"
        try await sandbox.api.script([
            ["text": "Writing it.", "tool_use": ["name": "Write", "input": ["file_path": .string(approved), "content": "yes\n"]]],
            ["text": "Now the other one.", "tool_use": ["name": "Write", "input": ["file_path": .string(denied), "content": "no\n"]]],
            ["text": "Done."],
        ])
        let delegate = ScriptedDelegate { request in
            request.input["file_path"]?.string == approved ? .allow() : .deny(message: "Not that file, thanks.")
        }
        let claude = session(sandbox, delegate: delegate)
        let (events, outcome) = try await claude.send(.text("write two files")).collect()
        let result = try #require(outcome?.result)
        #expect(!result.isError)
        #expect(FileManager.default.contents(atPath: approved) == Data("yes\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: denied))
        #expect(delegate.requests.map(\.toolName) == ["Write", "Write"])
        #expect(result.permissionDenials.map(\.toolName) == ["Write"])
        #expect(events.contains { if case .toolResults(let results) = $0 { results.contains { $0.isError && $0.content == "Not that file, thanks." } } else { false } })
        // Claude was told why: the denial is the tool result in the next request.
        let last = try #require(try await sandbox.api.mainRequests().last)
        #expect(last["body"]?.description.contains("Not that file, thanks.") == true)
        await claude.stop()
    }

    @Test func laterMessagesGoToTheSameProcessAndAResumedSessionKeepsItsHistory() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "First answer."], ["text": "Second answer."], ["text": "Third answer, after a restart."]])
        let options = sandbox.options()
        let first = session(sandbox, options: options)
        #expect(try await first.send(.text("one")).collect().outcome?.result?.result == "First answer.")
        let pid = await first.processID
        #expect(try await first.send(.text("two")).collect().outcome?.result?.result == "Second answer.")
        #expect(await first.processID == pid, "no new process per message")
        await first.stop()
        #expect(await !first.isProcessRunning)

        var resumed = options
        resumed.resume = true
        let second = session(sandbox, options: resumed)
        let result = try #require(try await second.send(.text("three")).collect().outcome?.result)
        #expect(result.result == "Third answer, after a restart.")
        #expect(result.sessionID == options.sessionID)
        #expect(await second.processID != pid)
        // The new process sent the whole conversation: two assistant turns before this one.
        let request = try #require(try await sandbox.api.mainRequests().last)
        let messages = request["body"]?["messages"]?.array ?? []
        #expect(messages.filter { $0["role"]?.string == "assistant" }.count == 2)
        #expect(request.description.contains("First answer."))
        await second.stop()
    }

    /// A host that never learnt its session was written (its process was stopped before the
    /// init line reached it) starts the CLI with `--session-id`, which the CLI refuses. The
    /// refusal is recognisable, and the next message resumes the session.
    @Test func aSessionWrittenByAnEarlierProcessIsResumedOnTheNextMessage() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "Written by the first process."], ["text": "Resumed."]])
        let options = sandbox.options()
        let first = session(sandbox, options: options)
        #expect(try await first.send(.text("one")).collect().outcome?.result?.result == "Written by the first process.")
        await first.stop()

        let unaware = session(sandbox, options: options)  // resume: false, as after a lost init
        let refused = try await unaware.send(.text("two")).collect().outcome
        guard case .failed(let error) = refused else {
            Issue.record("the CLI took --session-id for a written session: \(String(describing: refused))")
            return
        }
        #expect(error.isSessionInUse, "\(error)")
        let result = try #require(try await unaware.send(.text("two")).collect().outcome?.result)
        #expect(result.result == "Resumed.")
        #expect(result.sessionID == options.sessionID)
        await unaware.stop()
    }

    @Test func anIdleProcessIsStoppedAndTheNextMessageResumesIt() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "Before the pause."], ["text": "After the pause."]])
        let claude = session(sandbox) { $0.idleTimeout = .milliseconds(500) }
        #expect(try await claude.send(.text("one")).collect().outcome?.result?.result == "Before the pause.")
        #expect(await eventually(within: .seconds(15)) { await !claude.isProcessRunning })
        let result = try #require(try await claude.send(.text("two")).collect().outcome?.result)
        #expect(result.result == "After the pause.")
        await claude.stop()
    }

    /// The host's count of warm processes (ClaudeSessionObserver) hears each run start and end
    /// and the process go, in order; `stopIfIdle` leaves a run alone and stops an idle process,
    /// which the next message resumes.
    @Test func anObserverHearsRunsAndTheProcessAndStopIfIdleSparesARun() async throws {
        final class Recorder: ClaudeSessionObserver {
            let events = Mutex<[ClaudeSessionEvent]>([])
            func session(_ session: ClaudeSession, did event: ClaudeSessionEvent) { events.withLock { $0.append(event) } }
        }
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "Slowly.", "chunks": 4, "delay_ms": 500], ["text": "Resumed."]])
        let recorder = Recorder()
        let claude = ClaudeSession(
            configuration: sandbox.configuration { _ in }, options: sandbox.options(), delegate: ScriptedDelegate.allowAll(),
            logger: Self.logger, observer: recorder)
        #expect(await claude.stopIfIdle(reason: "test") == .notRunning)
        let events = try await claude.send(.text("one"))
        #expect(await claude.stopIfIdle(reason: "test") == .busy)
        var outcome: RunOutcome?
        for await event in events { if case .finished(let finished) = event { outcome = finished } }
        #expect(outcome?.result?.result == "Slowly.", "the run was not cut off")
        #expect(recorder.events.withLock { $0 } == [.runStarted, .runEnded])

        #expect(await claude.stopIfIdle(reason: "test") == .stopped)
        #expect(recorder.events.withLock { $0 } == [.runStarted, .runEnded, .processEnded])
        #expect(await !claude.isProcessRunning)
        let result = try #require(try await claude.send(.text("two")).collect().outcome?.result)
        #expect(result.result == "Resumed.")
        await claude.stop()
        #expect(recorder.events.withLock { $0 } == [.runStarted, .runEnded, .processEnded, .runStarted, .runEnded, .processEnded])
    }

    /// A stop detaches its process at once: a message sent before the old CLI is gone goes to
    /// a new process (spawned after the old one exits), never to the closing stdin, and the
    /// stop's sweep of the old process's tools leaves the new one alone.
    @Test func aMessageSentWhileTheProcessIsStoppingGoesToANewProcess() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "Before the stop."], ["text": "After the stop."]])
        let claude = session(sandbox)
        #expect(try await claude.send(.text("one")).collect().outcome?.result?.result == "Before the stop.")
        let oldPID = try #require(await claude.processID)
        let stopping = Task { await claude.stop() }
        #expect(await eventually(within: .seconds(15)) { await !claude.isProcessRunning })
        let result = try #require(try await claude.send(.text("two")).collect().outcome?.result)
        #expect(result.result == "After the stop.")
        #expect(await claude.processID != oldPID)
        await stopping.value
        #expect(kill(oldPID, 0) != 0, "the old process is gone")
        #expect(await claude.isProcessRunning, "the stop of the old process left the new one running")
        await claude.stop()
    }

    @Test func anAPIErrorEndsTheRunWithAClearResult() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["error": ["status": 401, "type": "authentication_error", "message": "invalid x-api-key"]]])
        let claude = session(sandbox)
        let clock = ContinuousClock()
        let started = clock.now
        let (events, outcome) = try await claude.send(.text("hi")).collect()
        let result = try #require(outcome?.result)
        #expect(result.isError)
        #expect(result.apiErrorStatus == 401)
        #expect(events.contains { if case .apiRetry(let retry) = $0 { retry.errorStatus == 401 } else { false } })
        #expect(clock.now - started < .seconds(30), "a bounded CLAUDE_CODE_MAX_RETRIES fails fast")
        await claude.stop()
    }

    @Test func aWriteAskedForInPlanModeIsDeniedByPolicy() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let path = sandbox.repository + "/plan.txt"
        try await sandbox.api.script([
            ["tool_use": ["name": "Write", "input": ["file_path": .string(path), "content": "x"]]],
            ["text": "I will only plan."],
        ])
        var options = sandbox.options()
        options.permissionMode = .plan
        let delegate = ScriptedDelegate.allowAll()  // would allow: the policy must not ask it
        let claude = session(sandbox, delegate: delegate, options: options)
        let (events, outcome) = try await claude.send(.text("plan it")).collect()
        #expect(outcome?.result?.isError == false)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(delegate.requests.isEmpty)
        #expect(events.contains { if case .permissionDeniedByPolicy(let request, _) = $0 { request.toolName == "Write" } else { false } })
        await claude.stop()
    }

    @Test func aSecondMessageWhileRunningIsRefused() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["text": "slow answer", "chunks": 10, "delay_ms": 100]])
        let claude = session(sandbox)
        let run = try await claude.send(.text("one"))
        await #expect(throws: ClaudeError.runInProgress) { _ = try await claude.send(.text("two")) }
        #expect(await run.collect().outcome?.result?.result == "slow answer")
        await claude.stop()
    }

    @Test func modelAndPermissionModeChangeFromTheNextTurn() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let path = sandbox.repository + "/edit.txt"
        try await sandbox.api.script([
            ["text": "first"],
            ["text": "Writing.", "tool_use": ["name": "Write", "input": ["file_path": .string(path), "content": "auto\n"]]],
            ["text": "written"],
        ])
        let delegate = ScriptedDelegate { _ in .deny(message: "the delegate should not be asked in acceptEdits") }
        let claude = session(sandbox, delegate: delegate)
        #expect(try await claude.send(.text("one")).collect().outcome?.result?.result == "first")
        try await claude.setModel("claude-sonnet-4-5")
        try await claude.setPermissionMode(.acceptEdits)
        let (events, outcome) = try await claude.send(.text("two")).collect()
        #expect(outcome?.result?.result == "written")
        #expect(FileManager.default.contents(atPath: path) == Data("auto\n".utf8), "acceptEdits allowed the Write")
        #expect(delegate.requests.isEmpty)
        #expect(events.contains { if case .initialized(let initialized) = $0 { initialized.model == "claude-sonnet-4-5" } else { false } })
        #expect(try await sandbox.api.mainRequests().last?["body"]?["model"]?.string == "claude-sonnet-4-5")
        await claude.stop()
    }

    @Test func outputLinesOfSeveralMegabytesAreHandled() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let path = sandbox.repository + "/big.txt"
        let content = String(repeating: "0123456789abcdef", count: 3 * 65_536)  // 3 MiB in one tool input
        try await sandbox.api.script([
            ["tool_use": ["name": "Write", "input": ["file_path": .string(path), "content": .string(content)]]],
            ["text": "big file written"],
        ])
        let claude = session(sandbox)
        let (events, outcome) = try await claude.send(.text("write a big file")).collect()
        #expect(outcome?.result?.result == "big file written")
        #expect((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == content.utf8.count)
        #expect(events.contains { if case .assistant(let message) = $0 { message.content.contains { if case .toolUse(_, "Write", let input) = $0 { input["content"]?.string?.count == content.count } else { false } } } else { false } })
        await claude.stop()
    }

    @Test func aSilentRunIsStoppedAfterTheSilenceTimeout() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([["hang": true]])
        let claude = session(sandbox) {
            $0.silenceTimeout = .seconds(2)
            $0.stopGracePeriod = .seconds(1)
        }
        let clock = ContinuousClock()
        let started = clock.now
        let (_, outcome) = try await claude.send(.text("hello?")).collect()
        guard case .failed(.silent(.seconds(2))) = outcome else {
            Issue.record("expected the silence timeout, got \(String(describing: outcome))")
            return
        }
        #expect(clock.now - started < .seconds(20))
        #expect(await !claude.isRunning)
        await claude.stop()
    }

    @Test func aBinaryThatCannotRunFailsTheRunInsteadOfHanging() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let fake = sandbox.directory.path + "/claude"
        try "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"x\"}'\necho 'fatal: broken install' >&2\nexit 3\n"
            .write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let claude = session(sandbox) { $0.executable = fake }
        let (_, outcome) = try await claude.send(.text("hi")).collect()
        guard case .failed(.processExited(let status, let stderr)) = outcome else {
            Issue.record("expected a process exit, got \(String(describing: outcome))")
            return
        }
        #expect(status == .exited(3))
        #expect(stderr.contains("broken install"))
        let missing = session(sandbox) { $0.executable = sandbox.directory.path + "/no-such-claude" }
        guard case .failed(.processExited(let missingStatus, let reason)) = try await missing.send(.text("hi")).collect().outcome else {
            Issue.record("a missing binary must fail the run")
            return
        }
        // The reaper cannot exec it: 127 and its reason, as a shell would say.
        #expect(missingStatus == .exited(127))
        #expect(reason.contains("no-such-claude"))
    }
}

extension AsyncStream where Element == RunEvent {
    /// Every event up to and including `.finished`, and the outcome.
    func collect() async -> (events: [RunEvent], outcome: RunOutcome?) {
        var events: [RunEvent] = []
        for await event in self {
            events.append(event)
            if case .finished(let outcome) = event { return (events, outcome) }
        }
        return (events, nil)
    }
}
