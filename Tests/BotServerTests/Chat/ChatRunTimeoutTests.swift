import ClaudeRunner
import Foundation
import Testing
import TestSupport

/// CLAUDE_RUN_TIMEOUT with its real minimum (60 s): a suite of its own, so that the minute
/// it waits holds up no other test of a serialized suite.
@Suite(.timeLimit(.minutes(4))) struct ChatRunTimeoutTests {
    /// A tool that would outlast the limit: the run is stopped when the limit passes (not
    /// before), the tool's process goes with it, and the chat is told why.
    @Test func aRunLongerThanTheRunTimeoutIsStoppedAndReported() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let marker = "time.sleep(187.5)"
        try await harness.anthropic.script([
            ["text": "Running it.", "tool_use": ["name": "Bash", "input": ["command": .string("python3 -c 'import time; \(marker)'"), "description": "wait"]]],
            ["text": "unreachable"],
        ])
        let clock = ContinuousClock()
        let (status, log) = try await harness.run(["CLAUDE_RUN_TIMEOUT": "60"]) { _ in
            let sent = clock.now
            let prompt = try await harness.send("A job longer than the limit")
            try await harness.approve("run:\npython3")
            #expect(await eventually(within: .seconds(10)) { !processes(commandLineContaining: marker).isEmpty })
            let report = try await harness.waitForMessage(containing: "The run took longer than 1 min 0 s and was stopped", within: .seconds(120))
            #expect(report != nil, "no report of the run timeout")
            #expect(clock.now - sent >= .seconds(60), "stopped before the limit")
            #expect(await eventually(within: .seconds(10)) { processes(commandLineContaining: marker).isEmpty }, "the tool outlived the run")
            #expect(await eventually {
                let reactions = (try? await harness.bot.reactions(chat: ChatHarness.user)) ?? [:]
                return (reactions["\(prompt)"] as? [[String: Any]])?.first?["emoji"] as? String == "👎"
            }, "the prompt's 👀 did not become 👎")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let texts = try await harness.bot.messages(chat: ChatHarness.user).compactMap { $0["text"] as? String }
        #expect(!texts.contains { $0.contains("unreachable") }, "\(texts)")
    }
}
