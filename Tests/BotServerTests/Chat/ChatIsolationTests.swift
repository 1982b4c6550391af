import ClaudeRunner
import Foundation
import Glibc
import Testing
import TestSupport

/// Claude's tools must not reach the bot's secrets, its database or its process. A Bash
/// command, approved through the buttons as a user would, tries every route a prompt
/// injection would (Fixtures/isolation_probe.py); what it found is what the CLI sends back
/// to the model as the tool_result, read here from the fake Anthropic API.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatIsolationTests {
    static let probe = Fixtures.directory.deletingLastPathComponent().appendingPathComponent("isolation_probe.py").path
    static let metricsToken = "metrics-token-isolation-0123456789"
    static let gitToken = "ghp_isolationTestToken0123456789abcdef"
    static let transcriptionKey = "sk-transcribe-isolation-0123456789"
    static var secrets: [String] { [BotProcess.token, BotProcess.secret, metricsToken, gitToken, transcriptionKey] }

    struct Probed {
        let toolResult: String
        let log: String
        /// A text only the database holds (a command's update, never sent to Claude).
        let canary: String
    }

    /// Runs the probe in a bot started with `isolation`. The webhook secret is given as a
    /// file (TELEGRAM_WEBHOOK_SECRET_FILE), the other secrets in the environment.
    private func probe(_ isolation: ChatHarness.Isolation) async throws -> Probed {
        let harness = try await ChatHarness.start(isolation: isolation)
        defer { harness.stop() }
        let canary = "canary-" + UUID().uuidString.lowercased().prefix(8)
        try FileManager.default.createDirectory(atPath: harness.secretsDirectory, withIntermediateDirectories: true)
        let secretFile = harness.secretsDirectory + "/webhook_secret"
        try (BotProcess.secret + "\n").write(toFile: secretFile, atomically: false, encoding: .utf8)
        chmod(secretFile, 0o600)
        let command = "python3 \(Self.probe) \(harness.dataDirectory) \(secretFile)"
        try await harness.anthropic.script([
            ["text": "Looking around.", "tool_use": ["name": "Bash", "input": ["command": .string(command), "description": "probe"]]],
            ["text": "Probe done."],
        ])
        let (status, log) = try await harness.run([
            "TELEGRAM_WEBHOOK_SECRET": "", "TELEGRAM_WEBHOOK_SECRET_FILE": secretFile,
            "METRICS_TOKEN": Self.metricsToken, "GIT_TOKEN": Self.gitToken,
            "TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:9", "TRANSCRIPTION_API_KEY": Self.transcriptionKey,
        ]) { _ in
            // Stored in the inbox like every update, and answered by the bot alone.
            try await harness.send("/status \(canary)")
            _ = try await harness.waitForMessage(containing: "Project")
            try await harness.send("Look around")
            try await harness.approve("run:\npython3")
            #expect(try await harness.waitForMessage(containing: "Probe done.", within: .seconds(60)) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let results = try await harness.anthropic.mainRequests().flatMap(Self.toolResults)
        return Probed(toolResult: results.joined(separator: "\n"), log: log, canary: canary)
    }

    /// The text of every tool_result block in one Messages API request the fake recorded.
    static func toolResults(_ request: JSONValue) -> [String] {
        (request["body"]?["messages"]?.array ?? []).flatMap { $0["content"]?.array ?? [] }.compactMap { block -> String? in
            guard block["type"]?.string == "tool_result" else { return nil }
            if let text = block["content"]?.string { return text }
            return (block["content"]?.array ?? []).compactMap { $0["text"]?.string }.joined(separator: "\n")
        }
    }

    private func expectNothingLeaked(_ probed: Probed) {
        let result = probed.toolResult
        #expect(result.contains("database main:"), "the probe ran and reported: \(result.prefix(2000))")
        for secret in Self.secrets {
            #expect(!result.contains(secret), "a secret reached the tool: \(result.prefix(4000))")
        }
        #expect(!result.contains("SQLite format 3"), "database content reached the tool")
        #expect(!result.contains(probed.canary), "database content reached the tool")
        #expect(!result.contains("bot.sqlite"), "the database's path reached the tool")
    }

    @Test(.enabled(if: TestAccounts.available, "\(TestAccounts.skipReason)"))
    func aToolRunningAsClaudeUserReachesNoSecretAndNoDatabase() async throws {
        let probed = try await probe(.separateUser)
        #expect(probed.log.contains("tool isolation: separate user"), "\(probed.log.prefix(2000))")
        expectNothingLeaked(probed)
    }

    @Test(.enabled(if: TestAccounts.available, "\(TestAccounts.skipReason)"))
    func aToolRunningAsTheBotsOwnUserReachesNoSecretAndNoDatabase() async throws {
        let probed = try await probe(.sameUser)
        #expect(probed.log.contains("tool isolation: same user, hardened"), "\(probed.log.prefix(2000))")
        expectNothingLeaked(probed)
    }

    /// The probe's own proof: with the bot and Claude both root ("none"), it finds the
    /// database and the secret file, so its silence above means something.
    @Test(.enabled(if: getuid() == 0, "needs root: only a root bot leaves everything readable to its tools"))
    func withoutIsolationTheProbeFindsTheDatabaseAndTheSecretFile() async throws {
        let probed = try await probe(.asTests)
        #expect(probed.log.contains("tool isolation: none"), "\(probed.log.prefix(2000))")
        #expect(probed.toolResult.contains("SQLite format 3"), "\(probed.toolResult.prefix(3000))")
        #expect(probed.toolResult.contains(probed.canary))
        #expect(probed.toolResult.contains(BotProcess.secret))
        #expect(probed.toolResult.contains("bot.sqlite"))
    }
}
