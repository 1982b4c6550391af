import Foundation
import Subprocess
import TestSupport
import Testing

@testable import BotServer

/// Claude's tools must not reach the bot's secrets, also when they run as the bot's own user:
/// the real `botserver` is checked from outside, as such a tool would look at it.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SecretIsolationTests {
    static let metricsToken = "metrics-token-in-environ-0123456789"
    static let gitToken = "ghp_gitTokenInEnviron0123456789"
    static let transcriptionKey = "sk-transcription-key-in-environ"
    /// Every secret value the bot is given in these tests.
    static let secretValues = [BotProcess.token, BotProcess.secret, metricsToken, gitToken, transcriptionKey]

    static var isRoot: Bool { geteuid() == 0 }

    /// `serve` wipes the secrets' values from the environment block that /proc/<pid>/environ
    /// shows, and turns itself non-dumpable, which closes that file (and mem, fd, ptrace) to
    /// processes of its user without CAP_SYS_PTRACE.
    ///
    /// Not root: this test is such a process, so opening the file must fail with EACCES.
    /// Root (CI): root may read any environ, which checks the wipe; and the non-dumpable flag is
    /// checked with a process like a tool's: the bot and a `cat` both run as uid 0 without any
    /// capability (setpriv clears the bounding set). A dumpable bot's environ is readable by
    /// such a `cat` (same uid, no capability the bot has and it lacks); only PR_SET_DUMPABLE
    /// makes the kernel refuse it. (Checking that the file is owned by root would prove nothing
    /// for a bot that runs as root.) As root this needs setpriv (util-linux) and CAP_SETPCAP,
    /// which a root shell and Docker's default capabilities have.
    @Test func theSecretsLeaveProcEnvironAndItIsClosedToTheBotsOwnUser() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        // One secret as a file, the way Docker and Coolify mount them.
        let secretFile = directory.path + "/webhook-secret"
        try Data((BotProcess.secret + "\n").utf8).write(to: URL(fileURLWithPath: secretFile))
        var environment = BotProcess.environment(dataDirectory: directory.path + "/data", port: port, extra: [
            "TELEGRAM_WEBHOOK_SECRET_FILE": secretFile, "METRICS_TOKEN": Self.metricsToken, "GIT_TOKEN": Self.gitToken,
            "TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:9", "TRANSCRIPTION_API_KEY": Self.transcriptionKey,
        ])
        environment["TELEGRAM_WEBHOOK_SECRET"] = nil
        let withoutCapabilities = ["setpriv", "--bounding-set=-all", "--"]
        let (status, log) = try await BotProcess.run(environment: environment, launcher: Self.isRoot ? withoutCapabilities : []) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            // The webhook secret came from its file: Telegram's header is accepted.
            #expect(try await BotProcess.postUpdate(port: port, Fixtures.textUpdate(id: 4242)).status == 200)
            let path = "/proc/\(execution.processIdentifier.value)/environ"
            if Self.isRoot {
                let environ = try Self.read(path)
                let entries = environ.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
                for secret in Self.secretValues {
                    #expect(!String(decoding: environ, as: UTF8.self).contains(secret), "\(path) shows \(secret)")
                }
                // Only the values are gone: the names, the file's path and the rest stay.
                #expect(entries.contains("PORT=\(port)"), "\(entries)")
                #expect(entries.contains("TELEGRAM_WEBHOOK_SECRET_FILE=\(secretFile)"), "\(entries)")
                for name in ["TELEGRAM_BOT_TOKEN", "METRICS_TOKEN", "GIT_TOKEN", "TRANSCRIPTION_API_KEY"] {
                    #expect(entries.contains("\(name)="), "\(name) \(entries)")
                }
                let (code, output) = try await offCooperativePool { try ChildProcess.run(withoutCapabilities + ["cat", path]) }
                #expect(code != 0 && output.contains("Permission denied"), "a process of the bot's user read \(path): \(output)")
            } else {
                let descriptor = open(path, O_RDONLY | O_CLOEXEC)
                let error = errno
                if descriptor >= 0 { close(descriptor) }
                #expect(descriptor < 0 && error == EACCES, "\(path) opened by the bot's own user (errno \(error))")
            }
            try execution.send(signal: .terminate)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!log.contains("botserver: warning:"), "\(log.suffix(3000))")
        for secret in Self.secretValues { #expect(!log.contains(secret), "the log shows \(secret)") }
    }

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

    /// All of a /proc file (its size reads as 0, so it is read to its end).
    private static func read(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ChildProcess.Failure("cannot open \(path): errno \(errno)")
        }
        defer { try? handle.close() }
        return Array(try handle.readToEnd() ?? Data())
    }
}
