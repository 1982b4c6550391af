import ClaudeRunner
import Foundation
import Glibc
import Testing
import TestSupport

/// The CLI and its tools under CLAUDE_USER (ToolSandbox.user), through the real reaper and
/// CLI: they run as that user, cannot get back, and the host still stops all of them.
@Suite(.serialized, .timeLimit(.minutes(3))) struct UserSwitchTests {
    /// The uid of a living process, from /proc/PID/status.
    private static func uid(of pid: Int32) -> uid_t? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        return line?.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { uid_t($0) }
    }

    @Test(.enabled(if: TestAccounts.available, "\(TestAccounts.skipReason)"))
    func toolsRunAsTheCLIUserWithNoWayBackAndAStopStillEndsThem() async throws {
        let claude = try #require(TestAccounts.claude)
        let sandbox = try await ClaudeSandbox.start()
        defer { sandbox.stop() }
        chmod(sandbox.directory.path, 0o755)
        TestAccounts.give(sandbox.home, to: claude.uid, claude.gid)
        TestAccounts.give(sandbox.repository, to: claude.uid, claude.gid)
        let tag = UUID().uuidString.prefix(8)
        try await sandbox.api.script([
            ["text": "Who am I?", "tool_use": ["name": "Bash", "input": [
                "command": "id -u; python3 -c 'import os; os.setuid(0)' 2>&1 | tail -n 1; touch made-by-claude",
                "description": "identity"]]],
            ["text": "Waiting.", "tool_use": ["name": "Bash", "input": [
                "command": .string("python3 -c 'import time; time.sleep(300) # \(tag)'"), "description": "wait"]]],
            ["text": "Stopped."],
        ])
        let session = ClaudeSession(
            configuration: sandbox.configuration {
                $0.sandbox = ToolSandbox(user: .init(uid: claude.uid, gid: claude.gid, groups: [claude.gid]))
            },
            options: sandbox.options(), delegate: ScriptedDelegate.allowAll(), logger: ClaudeSessionTests.logger)
        _ = try await session.send(.text("who runs the tools?"))
        #expect(await eventually(within: .seconds(60)) { !processes(commandLineContaining: "# \(tag)").isEmpty }, "the second tool runs")

        let identity = try await sandbox.api.mainRequests().description
        #expect(identity.contains("\(claude.uid)\\n"), "the tool ran as the CLI user: \(identity.suffix(1500))")
        #expect(identity.contains("PermissionError"), "setuid(0) was refused")
        var info = stat()
        #expect(stat(sandbox.repository + "/made-by-claude", &info) == 0 && info.st_uid == claude.uid)
        for tool in processes(commandLineContaining: "# \(tag)") {
            #expect(Self.uid(of: tool) == claude.uid, "tool \(tool)")
        }
        // The reaper: our real uid (so we may signal it), the CLI user's effective uid.
        let reaper = try #require(await session.processID)
        let reaperIDs = try String(contentsOfFile: "/proc/\(reaper)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        #expect(reaperIDs.split(whereSeparator: { $0 == "\t" }).dropFirst().map(String.init) == ["0", "\(claude.uid)", "0", "\(claude.uid)"], "\(reaperIDs)")

        await session.stop()
        #expect(await eventually { processes(commandLineContaining: "# \(tag)").isEmpty }, "the CLI user's tool is gone within 5 s")
    }
}
