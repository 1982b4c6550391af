import Foundation
import Subprocess
import TestSupport
import Testing

@testable import BotServer

/// Claude's tools must not reach the bot's secrets, also when they run as the bot's own user:
/// the real `botserver` is checked from outside, as such a tool would look at it.
@Suite struct SecretIsolationTests {
    static let metricsToken = "metrics-token-in-environ-0123456789"
    static let gitToken = "ghp_gitTokenInEnviron0123456789"
    static let transcriptionKey = "sk-transcription-key-in-environ"
    /// Every secret value the bot is given in these tests.
    static let secretValues = [BotProcess.token, BotProcess.secret, metricsToken, gitToken, transcriptionKey]

    /// `doctor` runs `claude --version` with PATH, HOME and LANG only: CLAUDE_BIN is a script
    /// that writes down the environment it was given.
    @Test func doctorRunsClaudeWithoutTheBotsEnvironment() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = directory.path + "/claude"
        let record = directory.path + "/claude-environment"
        try "#!/bin/sh\nenv > '\(record)'\necho '2.1.0 (Claude Code)'\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let environment = BotProcess.environment(dataDirectory: directory.path + "/data", port: 0, extra: [
            "CLAUDE_BIN": script, "HOME": directory.path, "LANG": "C.UTF-8", "METRICS_TOKEN": Self.metricsToken,
            "GIT_TOKEN": Self.gitToken, "TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:9", "TRANSCRIPTION_API_KEY": Self.transcriptionKey,
        ])
        let doctor = try await BotProcess.command(["doctor"], environment: environment)
        #expect(doctor.output.contains("✔ claude: 2.1.0 (Claude Code)"), "\(doctor.output)\(doctor.log)")
        let seen = try String(contentsOfFile: record, encoding: .utf8)
        for secret in Self.secretValues { #expect(!seen.contains(secret), "claude --version saw \(secret)") }
        let names = Set(seen.split(separator: "\n").compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        // What the shell adds itself (PWD, SHLVL, ...) aside, only the three are passed.
        #expect(names.isSuperset(of: ["PATH", "HOME", "LANG"]), "\(names.sorted())")
        #expect(names.isDisjoint(with: environment.keys.filter { !["PATH", "HOME", "LANG"].contains($0) }), "\(names.sorted())")
        #expect(seen.contains("HOME=\(directory.path)\n") && seen.contains("LANG=C.UTF-8\n"), "\(seen)")
    }
}
