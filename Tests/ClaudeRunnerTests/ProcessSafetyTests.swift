import ClaudeRunner
import Foundation
import Glibc
import Logging
import TestSupport
import Testing

/// No tool process may outlive a cancel, a crash or a stop. Bash tool commands run in
/// sessions of their own, so these are real escapes, not hypotheticals.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ProcessSafetyTests {
    @Test func theReaperIsBuiltAndUsed() {
        // swift build builds it beside the test bundle, as beside botserver in the image.
        #expect(ClaudeConfiguration.reaperBesideExecutable() != nil)
    }

    /// A command line unique to each test, so leftovers of one cannot satisfy another.
    private func sleeper() -> (command: String, needle: String) {
        let seconds = 300 + Int.random(in: 0..<1000) / 1000
        let tag = UUID().uuidString.prefix(8)
        return ("python3 -c 'import time; time.sleep(\(seconds)) # \(tag)'", "# \(tag)")
    }

    private func startLongTool(_ sandbox: ClaudeSandbox, _ command: String, configure: (inout ClaudeConfiguration) -> Void = { _ in })
        async throws -> (ClaudeSession, AsyncStream<RunEvent>)
    {
        try await sandbox.api.script([
            ["text": "Running it.", "tool_use": ["name": "Bash", "input": ["command": .string(command), "description": "wait"]]],
            ["text": "Stopped."],
        ])
        let claude = ClaudeSession(
            configuration: sandbox.configuration(configure), options: sandbox.options(), delegate: ScriptedDelegate.allowAll(),
            logger: ClaudeSessionTests.logger)
        return (claude, try await claude.send(.text("run the slow command")))
    }

    @Test func anInterruptEndsTheTurnKillsTheToolAndKeepsTheProcess() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let (command, needle) = sleeper()
        let (claude, events) = try await startLongTool(sandbox, command)
        #expect(await eventually(within: .seconds(30)) { !processes(commandLineContaining: needle).isEmpty }, "the tool runs")
        try await claude.interrupt()
        let result = try #require(await events.collect().outcome?.result)
        #expect(result.subtype == "error_during_execution")
        #expect(await eventually { processes(commandLineContaining: needle).isEmpty }, "the tool is gone within 5 s")
        #expect(await claude.isProcessRunning, "an interrupt ends the turn, not the process")
        await claude.stop()
    }

    /// The CLI and the tools it starts run nicer than the host (through the reaper; the
    /// path without one is checked in ClaudeConfigurationTests: a session without a reaper
    /// makes this whole test process a child subreaper, and other tests' orphans would then
    /// linger here as zombies).
    @Test func theCLIAndItsToolsRunAtTheConfiguredNiceness() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let (command, needle) = sleeper()
        let (claude, events) = try await startLongTool(sandbox, command) { $0.niceness = 7 }
        #expect(await eventually(within: .seconds(30)) { !processes(commandLineContaining: needle).isEmpty }, "the tool runs")
        let ours = Self.niceness(of: getpid())
        let tools = processes(commandLineContaining: needle)
        #expect(!tools.isEmpty, "a tool to look at")
        for tool in tools {
            #expect(Self.niceness(of: tool) == ours.map { $0 + 7 }, "tool \(tool)")
        }
        // The reaper itself stays at the host's niceness: it only waits and reaps.
        let reaper = try #require(await claude.processID, "the session has a process")
        #expect(Self.niceness(of: reaper) == ours)
        try await claude.interrupt()
        _ = await events.collect()
        await claude.stop()
    }

    /// Only kernels built with scheduler autogroups (CONFIG_SCHED_AUTOGROUP) have the file;
    /// the test cannot make one that lacks them grow it.
    static let kernelHasAutogroups = FileManager.default.fileExists(atPath: "/proc/self/autogroup")

    /// Under autogroups the CLI's session is made as nice, or nice() would not rank it below
    /// the bot's session at all.
    @Test(.enabled(if: kernelHasAutogroups, "this kernel has no scheduler autogroups"))
    func theCLIsSessionAutogroupIsAsNice() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let (command, needle) = sleeper()
        let (claude, events) = try await startLongTool(sandbox, command) { $0.niceness = 7 }
        #expect(await eventually(within: .seconds(30)) { !processes(commandLineContaining: needle).isEmpty }, "the tool runs")
        let reaper = try #require(await claude.processID, "the session has a process")
        let autogroup = "/proc/\(reaper)/autogroup"
        #expect(await eventually(within: .seconds(5)) {
            (try? String(contentsOfFile: autogroup, encoding: .utf8))?.hasSuffix(" nice 7\n") == true
        }, "\((try? String(contentsOfFile: autogroup, encoding: .utf8)) ?? "gone")")
        try await claude.interrupt()
        _ = await events.collect()
        await claude.stop()
    }

    /// A bot killed with -9 (or by the OOM killer) leaves its reapers behind. Each notices
    /// that its parent is gone: the CLI gets SIGTERM, and 5 s later whatever is left below
    /// the reaper SIGKILL. Here the command ignores SIGTERM, as a CLI stuck in a tool might,
    /// so only the second step can end it; a live tool before proves the test can fail.
    @Test func aReaperWhoseParentDiesEndsTheCLIAndItsTools() async throws {
        let reaper = try #require(ClaudeConfiguration.reaperBesideExecutable())
        let (tool, needle) = sleeper()
        // sh is the bot here: it starts the reaper as its child, then dies without a word. It
        // runs with the signals the reaper handles blocked, which exec passes on (a thread of
        // Swift's or Dispatch's may spawn with such a mask): the reaper must unblock them.
        let script = "\(reaper) --parent $$ sh -c \"trap '' TERM; \(tool)\" & sleep 0.5; kill -9 $$"
        let bot = try ChildProcess([
            "python3", "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM, signal.SIGUSR1}); os.execvp('sh', ['sh', '-c', sys.argv[1]])",
            script,
        ])
        defer {
            for pid in processes(commandLineContaining: needle) { kill(pid, SIGKILL) }
            bot.stop(within: .zero)
        }
        #expect(await eventually(within: .seconds(10)) { !processes(commandLineContaining: needle).isEmpty }, "the tool runs")
        #expect(bot.stop(within: .seconds(5)) & 0x7f == SIGKILL, "the bot is gone")
        #expect(await eventually(within: .seconds(20)) { processes(commandLineContaining: needle).isEmpty },
            "left: \(processes(commandLineContaining: needle).map { ($0, (try? String(contentsOfFile: "/proc/\($0)/stat", encoding: .utf8)) ?? "") })")

        // A reaper whose parent is already gone when it starts runs nothing.
        let (status, output) = try ChildProcess.run([reaper, "--parent", "1", "sh", "-c", "echo ran"])
        #expect(status == 2)
        #expect(output.contains("parent 1 is gone") && !output.contains("ran\n"), "\(output)")
    }

    /// Claude's tools run commands of the model's choosing: none of them may hold a socket,
    /// a database or a pipe of the bot's. A descriptor left without close-on-exec (a
    /// library's, or ours by mistake) is the case that matters, so the test makes one.
    @Test func theCLIAndItsToolsInheritNoDescriptorOfTheHost() async throws {
        let stray = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(stray >= 0)
        defer { close(stray) }
        let hostFiles = Self.openFiles(of: getpid())
        try #require(hostFiles.contains(where: { $0.hasPrefix("socket:") }))

        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let (command, needle) = sleeper()
        let (claude, events) = try await startLongTool(sandbox, command)
        #expect(await eventually(within: .seconds(30)) { !processes(commandLineContaining: needle).isEmpty }, "the tool runs")
        let reaper = try #require(await claude.processID)
        let cli = try #require(children(of: reaper).first)
        for pid in [reaper, cli] + processes(commandLineContaining: needle) {
            // What a child may share with us: its own stdio pipes, made for it, and /dev/null.
            // Every eventfd and epoll reads "anon_inode:[…]": the name tells nothing.
            let shared = Self.openFiles(of: pid).intersection(hostFiles).filter {
                !$0.hasPrefix("pipe:") && !$0.hasPrefix("anon_inode:") && $0 != "/dev/null"
            }
            #expect(shared.isEmpty, "process \(pid) holds the host's \(shared.sorted())")
        }
        // The CLI's stdio pipes are the only pipes it shares with us: three of them.
        let pipes = Self.openFiles(of: cli).intersection(hostFiles).filter { $0.hasPrefix("pipe:") }
        #expect(pipes.count <= 3, "\(pipes.sorted())")
        try await claude.interrupt()
        _ = await events.collect()
        await claude.stop()
    }

    /// What the process's descriptors point at: paths, `socket:[inode]`, `pipe:[inode]`.
    private static func openFiles(of pid: pid_t) -> Set<String> {
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0) })
    }

    /// Field 19 of /proc/<pid>/stat.
    private static func niceness(of pid: pid_t) -> Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 16 ? Int(fields[16]) : nil
    }

    @Test func aSIGKILLedCLILeavesNoToolBehindAndNoZombie() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let (command, needle) = sleeper()
        let (claude, events) = try await startLongTool(sandbox, command)
        #expect(await eventually(within: .seconds(30)) { !processes(commandLineContaining: needle).isEmpty })
        // The CLI itself (the reaper's child), killed the way an OOM kill or a crash does it.
        let reaper = try #require(await claude.processID)
        let cli = try #require(children(of: reaper).first)
        kill(cli, SIGKILL)
        guard case .failed(.processExited(let status, _)) = await events.collect().outcome else {
            Issue.record("the run must fail with the kill")
            return
        }
        #expect(status == .exited(128 + SIGKILL), "the reaper reports the CLI's death")
        #expect(await eventually { processes(commandLineContaining: needle).isEmpty }, "orphaned tool killed within 5 s")
        #expect(await eventually { zombieChildren().isEmpty }, "and reaped: \(describeZombies())")
    }

    @Test func stoppingDuringAToolEndsEverything() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let (command, needle) = sleeper()
        let (claude, events) = try await startLongTool(sandbox, command) { $0.stopGracePeriod = .seconds(1) }
        #expect(await eventually(within: .seconds(30)) { !processes(commandLineContaining: needle).isEmpty })
        let marker = await claude.processMarker
        let clock = ContinuousClock()
        let started = clock.now
        await claude.stop()
        #expect(clock.now - started < .seconds(10))
        guard case .failed(.stopped) = await events.collect().outcome else {
            Issue.record("a stopped run reports it")
            return
        }
        #expect(await !claude.isProcessRunning)
        #expect(await eventually { processes(commandLineContaining: needle).isEmpty })
        #expect(DescendantSweeper.processes(marked: marker).isEmpty)
        #expect(await eventually { zombieChildren().isEmpty }, "\(describeZombies())")
    }

    @Test func aPendingApprovalIsWithdrawnByAnInterrupt() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        try await sandbox.api.script([
            ["tool_use": ["name": "Write", "input": ["file_path": .string(sandbox.repository + "/w.txt"), "content": "x"]]],
            ["text": "ok"],
        ])
        // Never answers: the user has not tapped yet.
        let delegate = ScriptedDelegate { _ in
            try? await Task.sleep(for: .seconds(600))
            return .deny(message: "too late")
        }
        let claude = ClaudeSession(
            configuration: sandbox.configuration(), options: sandbox.options(), delegate: delegate, logger: ClaudeSessionTests.logger)
        let events = try await claude.send(.text("write"))
        #expect(await eventually(within: .seconds(30)) { !delegate.requests.isEmpty })
        try await claude.interrupt()
        let (all, outcome) = await events.collect()
        #expect(outcome?.result?.terminalReason == "aborted_tools")
        #expect(all.contains { if case .permissionWithdrawn = $0 { true } else { false } })
        #expect(await eventually { delegate.withdrawals == [delegate.requests[0].id] })
        #expect(!FileManager.default.fileExists(atPath: sandbox.repository + "/w.txt"))
        await claude.stop()
    }

    @Test func askUserQuestionGetsTheChosenAnswer() async throws {
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        let question: JSONValue = [
            "question": "Which colour?", "header": "Colour", "multiSelect": false,
            "options": [["label": "Red", "description": "warm"], ["label": "Blue", "description": "cool"]],
        ]
        try await sandbox.api.script([
            ["tool_use": ["name": "AskUserQuestion", "input": ["questions": [question]]]],
            ["text": "Blue it is."],
        ])
        let delegate = ScriptedDelegate { request in
            var input = request.input.object ?? [:]
            input["answers"] = ["Which colour?": "Blue"]
            return .allow(updatedInput: .object(input))
        }
        let claude = ClaudeSession(
            configuration: sandbox.configuration(), options: sandbox.options(), delegate: delegate, logger: ClaudeSessionTests.logger)
        let result = try #require(try await claude.send(.text("ask me")).collect().outcome?.result)
        #expect(result.result == "Blue it is.")
        #expect(delegate.requests.first?.requiresUserInteraction == true)
        let last = try #require(try await sandbox.api.mainRequests().last)
        #expect(last.description.contains("Blue"))
        await claude.stop()
    }
}
