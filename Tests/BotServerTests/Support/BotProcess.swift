import Foundation
import Subprocess
import SystemPackage
import TestSupport

/// Runs the real `botserver` executable (built beside the test bundle) as a child process.
enum BotProcess {
    static let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    static let secret = "process-secret_0123456789"

    /// The botserver binary sits next to the test bundle in the build directory.
    static var binaryPath: String {
        if let override = ProcessInfo.processInfo.environment["BOTSERVER_BIN"] { return override }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        // On Linux the test runner is the .xctest executable itself, directly in the build directory.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("botserver").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("botserver").path
    }

    static func environment(dataDirectory: String, port: Int, extra: [String: String] = [:]) -> [String: String] {
        var values = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_WEBHOOK_SECRET": secret,
            "PORT": String(port),
            "LISTEN_HOST": "127.0.0.1",
            "DATA_DIR": dataDirectory,
            "LOG_LEVEL": "info",
            // Nobody in the fixtures: updates are refused unless a test allows its users.
            "ALLOWED_USER_IDS": "1",
            "WORKSPACE_ROOT": dataDirectory + "/workspace",
            // Nothing listens there: a test that needs Telegram points this at its fake.
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
        ]
        values.merge(extra) { $1 }
        return values
    }

    /// Starts the server, runs `body` while it is up, and returns its exit status and stderr.
    /// `account`: run it as that user (needs root), with its primary group and `groups`.
    /// `launcher` is a program that execs the server in its own process (so the pid stays the
    /// server's), with these arguments before the server's path: e.g. setpriv dropping privileges.
    /// `binary`: another copy of botserver (with its own claude-reaper beside it).
    static func run(
        environment: [String: String], arguments: [String] = ["serve"], account: TestAccounts.Account? = nil, groups: [gid_t] = [],
        launcher: [String] = [], binary: String = binaryPath,
        body: @escaping (Execution<NoInput, DiscardedOutput, StringOutput<UTF8>>) async throws -> Void = { _ in }
    ) async throws -> (status: TerminationStatus, log: String) {
        let launcher = launcher + switching(to: account, groups)
        let executable = launcher.first.map { Executable.name($0) } ?? .path(FilePath(binary))
        let result = try await Subprocess.run(
            executable, arguments: Arguments(launcher.isEmpty ? arguments : launcher.dropFirst() + [binary] + arguments),
            environment: .custom(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })),
            input: .none, output: .discarded, error: .string(limit: 4 << 20)
        ) { execution in
            try await body(execution)
        }
        return (result.terminationStatus, result.standardError)
    }

    /// Runs a one-shot command (e.g. `webhook info`) to completion.
    static func command(_ arguments: [String], environment: [String: String], account: TestAccounts.Account? = nil, groups: [gid_t] = [])
        async throws -> (status: TerminationStatus, output: String, log: String)
    {
        let launcher = switching(to: account, groups)
        let result = try await Subprocess.run(
            launcher.first.map { Executable.name($0) } ?? .path(FilePath(binaryPath)),
            arguments: Arguments(launcher.isEmpty ? arguments : launcher.dropFirst() + [binaryPath] + arguments),
            environment: .custom(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })),
            input: .none, output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
        return (result.terminationStatus, result.standardOutput, result.standardError)
    }

    /// A launcher that runs the server as `account` (needs root), with its primary group and
    /// `groups`: util-linux setpriv, which switches and execs in its own process. Not
    /// swift-subprocess's userID: that forks this many-threaded process and calls setgroups
    /// in the child, which can deadlock in glibc (seen: a child stuck on a futex forever).
    private static func switching(to account: TestAccounts.Account?, _ groups: [gid_t]) -> [String] {
        guard let account else { return [] }
        let all = ([account.gid] + groups).map(String.init).joined(separator: ",")
        return ["setpriv", "--reuid=\(account.uid)", "--regid=\(account.gid)", "--groups=\(all)", "--"]
    }

    static func postUpdate(port: Int, _ body: [UInt8]) async throws -> RawHTTPClient.Response {
        try await RawHTTPClient.request(
            port: port, method: "POST", path: "/telegram/webhook",
            headers: ["X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"], body: body)
    }
}
