import Foundation
import Testing

@testable import ClaudeRunner

@Suite struct ClaudeConfigurationTests {
    private let host = [
        "PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": "sk-ant-1", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
        "TELEGRAM_BOT_TOKEN": "123:secret", "TELEGRAM_WEBHOOK_SECRET": "hook", "DATABASE_PASSWORD": "pw",
        "GH_TOKEN": "ghp_x", "HOME": "/root",
    ]

    @Test func defaultsAndTheMinimalEnvironment() throws {
        let configuration = try ClaudeConfiguration.fromEnvironment(host, home: "/data/claude-home")
        #expect(configuration.executable == "claude")
        #expect(configuration.maxRetries == 2)
        #expect(configuration.idleTimeout == .seconds(600))
        #expect(configuration.niceness == 5)
        #expect(configuration.environment["HOME"] == "/data/claude-home")
        #expect(configuration.environment["ANTHROPIC_API_KEY"] == "sk-ant-1")
        #expect(configuration.environment["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1")
        for secret in ["TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "DATABASE_PASSWORD", "GH_TOKEN"] {
            #expect(configuration.environment[secret] == nil, "\(secret) must not reach Claude")
        }
    }

    @Test func settingsAreRead() throws {
        var values = host
        values["CLAUDE_BIN"] = "/opt/claude/bin/claude"
        values["CLAUDE_CODE_MAX_RETRIES"] = "5"
        values["CLAUDE_ENV_ALLOW"] = "GH_TOKEN, NPM_TOKEN"
        values["CLAUDE_IDLE_TIMEOUT"] = "120"
        values["CLAUDE_RUN_TIMEOUT"] = "7200"
        values["CLAUDE_SILENCE_TIMEOUT"] = "300"
        values["CLAUDE_NICENESS"] = "0"
        let configuration = try ClaudeConfiguration.fromEnvironment(values, home: "/h")
        #expect(configuration.executable == "/opt/claude/bin/claude")
        #expect(configuration.maxRetries == 5)
        #expect(configuration.environment["GH_TOKEN"] == "ghp_x", "allowed explicitly")
        #expect(configuration.environment["NPM_TOKEN"] == nil, "allowed but not set")
        #expect(configuration.idleTimeout == .seconds(120))
        #expect(configuration.runTimeout == .seconds(7200))
        #expect(configuration.silenceTimeout == .seconds(300))
        #expect(configuration.niceness == 0)
    }

    @Test(arguments: [
        ("CLAUDE_CODE_MAX_RETRIES", "many"), ("CLAUDE_CODE_MAX_RETRIES", "11"), ("CLAUDE_ENV_ALLOW", "A,B C"),
        ("CLAUDE_IDLE_TIMEOUT", "1"), ("CLAUDE_RUN_TIMEOUT", "soon"), ("CLAUDE_SILENCE_TIMEOUT", "0"),
        ("CLAUDE_NICENESS", "20"), ("CLAUDE_NICENESS", "-1"),
    ])
    func aBadSettingNamesItsVariable(variable: String, value: String) throws {
        var values = host
        values[variable] = value
        let error = try #require(throws: ClaudeConfiguration.SettingError.self) {
            _ = try ClaudeConfiguration.fromEnvironment(values, home: "/h")
        }
        #expect(error.variable == variable)
    }
}

@Suite struct ExecutableResolutionTests {
    @Test func theLaunchLineCarriesTheNiceness() {
        let reaper = CLIInvocation.launch(claude: "/bin/claude", arguments: ["-p"], reaper: "/r/claude-reaper", niceness: 5, path: "/usr/bin:/bin", parent: 77)
        #expect(reaper.executable == "/r/claude-reaper")
        #expect(reaper.arguments == ["--nice", "5", "--parent", "77", "/bin/claude", "-p"])
        let plain = CLIInvocation.launch(claude: "/bin/claude", arguments: ["-p"], reaper: "/r/claude-reaper", niceness: 0, path: "/usr/bin:/bin")
        #expect(plain.arguments == ["--parent", "\(getpid())", "/bin/claude", "-p"], "the parent is this process by default")
        // No reaper: coreutils nice, found on PATH.
        let niced = CLIInvocation.launch(claude: "/bin/claude", arguments: ["-p"], reaper: nil, niceness: 5, path: "/usr/bin:/bin")
        #expect(niced.executable.hasSuffix("/nice") && niced.executable.hasPrefix("/"))
        #expect(niced.arguments == ["-n", "5", "/bin/claude", "-p"])
        let nowhere = CLIInvocation.launch(claude: "/bin/claude", arguments: ["-p"], reaper: nil, niceness: 5, path: "/nonexistent")
        #expect(nowhere.executable == "/bin/claude" && nowhere.arguments == ["-p"], "without nice the CLI still starts")
    }

    @Test func relativePathsAreMadeAbsoluteAgainstOurDirectoryNotTheProjects() {
        let cwd = FileManager.default.currentDirectoryPath
        #expect(CLIInvocation.resolve(".build/release/claude-reaper", path: nil) == cwd + "/.build/release/claude-reaper")
        #expect(CLIInvocation.resolve("/opt/claude", path: nil) == "/opt/claude")
        #expect(CLIInvocation.resolve("sh", path: "/nonexistent:/bin") == "/bin/sh")
        #expect(CLIInvocation.resolve("no-such-binary", path: "/bin") == "no-such-binary")
    }
}
