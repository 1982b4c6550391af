import ArgumentParser
import ClaudeRunner
import Glibc
import HTTPCore
import Logging
import Subprocess
import SystemPackage

/// `botserver doctor`: everything the bot needs, checked in the order an operator would fix
/// it, with one line per check and a non-zero exit when any fails.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check configuration, storage, workspace, Claude Code, git, the Telegram token and the webhook.")

    struct Check: Sendable {
        let name: String
        let ok: Bool
        let detail: String

        var line: String { (ok ? "✔ " : "✘ ") + name + ": " + detail }
    }

    func run() async throws {
        let checks: [Check]
        do {
            let environment = try Environment.resolvingSecretFiles(ProcessEnvironment.current())
            // As serve would run: started as root with CLAUDE_USER, it checks as BOT_USER.
            try ServeCommand.dropRootIfAsked(environment)
            // And hardened as serve is, which the isolation level depends on.
            let hardening = ProcessHardening.apply()
            checks = await Self.checks(environment: environment, hardened: hardening.nonDumpable && hardening.environmentWiped)
        } catch {
            // A secret file that cannot be read is a configuration problem like any other.
            checks = [Check(name: "configuration", ok: false, detail: "\(error)")]
        }
        for check in checks { print(check.line) }
        let failed = checks.filter { !$0.ok }.count
        print(failed == 0 ? "all \(checks.count) checks passed" : "\(failed) of \(checks.count) checks failed")
        if failed > 0 { throw ExitCode(1) }
    }

    /// `hardened`: this process applied the hardening serve applies (ProcessHardening).
    static func checks(environment: Environment, hardened: Bool) async -> [Check] {
        LoggingSystem.bootstrap { label in SwiftLogNoOpLogHandler(label) }
        var checks: [Check] = []
        let configuration: Configuration
        let chat: ChatSettings
        do {
            configuration = try Configuration.load(from: environment)
            chat = try ChatSettings.load(
                from: environment, currentDirectory: ProcessEnvironment.currentDirectory(), dataDirectory: configuration.dataDirectory)
            checks.append(Check(name: "configuration", ok: true, detail: "\(configuration.updateMode == .webhook ? "webhook" : "polling") mode, \(chat.allowedUserIDs.count + chat.adminUserIDs.subtracting(chat.allowedUserIDs).count) allowed users; warm Claude sessions \(chat.warmSessions)"))
        } catch {
            checks.append(Check(name: "configuration", ok: false, detail: "\(error)"))
            return checks
        }
        let isolation = await toolIsolation(configuration, chat, hardened: hardened)
        checks.append(isolation.check)
        checks.append(await database(configuration))
        checks.append(workspace(chat.workspaceRoot))
        let helper = HelperEnvironment.values(from: environment)
        var claude = chat.claude
        claude.sandbox = isolation.sandbox
        checks.append(await version(of: claude, hint: "install Claude Code or set CLAUDE_BIN", helper: helper))
        checks.append(await version(of: "git", name: "git", hint: "install git", environment: helper))
        checks.append(await credentials(claude))
        checks.append(contentsOf: await telegram(configuration))
        return checks
    }

    private static func database(_ configuration: Configuration) async -> Check {
        do {
            let database = try Database.open(directory: configuration.dataDirectory, logger: Logger(label: "doctor"))
            defer { Task { await database.close() } }
            try await database.writer.checkWritable()
            let pending = try await InboxStore(database: database).count(state: .pending)
            return Check(name: "database", ok: true, detail: "\(configuration.databasePath) writable, schema \(Migrations.latestVersion), \(pending) updates pending")
        } catch {
            return Check(name: "database", ok: false, detail: "\(configuration.databasePath): \(error)")
        }
    }

    private static func workspace(_ root: String) -> Check {
        guard access(root, W_OK | X_OK) == 0 else {
            return Check(name: "workspace", ok: false, detail: "\(root) is not writable by this user (uid \(geteuid()))")
        }
        let projects = WorkspacePath.entries(of: root).filter(\.isDirectory).count
        return Check(name: "workspace", ok: true, detail: "\(root) writable, \(projects) project folder\(projects == 1 ? "" : "s")")
    }

    /// The isolation serve would establish (ToolIsolation), as a check: failed when serve
    /// would refuse to start, or when REQUIRE_TOOL_ISOLATION is not met.
    private static func toolIsolation(_ configuration: Configuration, _ chat: ChatSettings, hardened: Bool) async -> (check: Check, sandbox: ToolSandbox) {
        do {
            let isolation = try await BotApplication.isolateTools(configuration, chat, hardened: hardened)
            let line = isolation.line.dropFirst("tool isolation: ".count)
            return (Check(name: "tool isolation", ok: true, detail: String(line)), isolation.claudeSandbox)
        } catch {
            return (Check(name: "tool isolation", ok: false, detail: "\(error)"), ToolSandbox())
        }
    }

    /// `claude --version` as Claude will run: as CLAUDE_USER through the reaper, with the
    /// CLI's own environment; else as a helper, with `helper` only.
    private static func version(of claude: ClaudeConfiguration, hint: String, helper: [String: String]) async -> Check {
        guard !claude.sandbox.isEmpty, let reaper = claude.reaper else {
            return await version(of: claude.executable, name: "claude", hint: hint, environment: helper)
        }
        return await version(
            program: .path(FilePath(reaper)), arguments: claude.sandbox.reaperArguments + ["timeout", "20", claude.executable, "--version"],
            executable: claude.executable, name: "claude", hint: hint, environment: claude.environment)
    }

    /// Runs `executable --version` with `environment` only: the bot's own holds its token.
    private static func version(of executable: String, name: String, hint: String, environment: [String: String]) async -> Check {
        await version(program: .name("timeout"), arguments: ["20", executable, "--version"], executable: executable, name: name, hint: hint, environment: environment)
    }

    private static func version(
        program: Executable, arguments: [String], executable: String, name: String, hint: String, environment: [String: String]
    ) async -> Check {
        do {
            let result = try await Subprocess.run(
                program, arguments: Arguments(arguments), environment: HelperEnvironment.subprocess(environment),
                input: .none, output: .string(limit: 4096), error: .string(limit: 4096))
            guard case .exited(0) = result.terminationStatus else {
                return Check(name: name, ok: false, detail: "`\(executable) --version` failed (\(result.terminationStatus)): \(result.standardError.trimmingWhitespace()); \(hint)")
            }
            return Check(name: name, ok: true, detail: result.standardOutput.split(separator: "\n").first.map(String.init) ?? executable)
        } catch {
            return Check(name: name, ok: false, detail: "cannot run \(executable): \(error); \(hint)")
        }
    }

    /// Looked for as Claude will look: a CLAUDE_USER's login is that user's to read.
    private static func credentials(_ claude: ClaudeConfiguration) async -> Check {
        let environment = claude.environment
        if environment["ANTHROPIC_API_KEY"] != nil || environment["ANTHROPIC_AUTH_TOKEN"] != nil || environment["CLAUDE_CODE_OAUTH_TOKEN"] != nil {
            return Check(name: "claude login", ok: true, detail: "credentials from the environment")
        }
        let home = environment["HOME"] ?? ""
        let files = [home + "/.claude/.credentials.json", home + "/.claude.json"]
        let found: Bool
        if claude.sandbox.user != nil, let reaper = claude.reaper {
            let result = try? await Subprocess.run(
                .path(FilePath(reaper)), arguments: Arguments(claude.sandbox.reaperArguments + ["sh", "-c", "[ -r \"$1\" ] || [ -r \"$2\" ]", "sh"] + files),
                environment: HelperEnvironment.subprocess(environment), input: .none, output: .discarded, error: .discarded)
            found = result?.terminationStatus == .exited(0)
        } else {
            found = files.contains { access($0, R_OK) == 0 }
        }
        if found {
            return Check(name: "claude login", ok: true, detail: "a Claude Code login in \(home)")
        }
        return Check(
            name: "claude login", ok: false,
            detail: "no ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, and no login in \(home) (run `claude` once as this user, or set one)")
    }

    private static func telegram(_ configuration: Configuration) async -> [Check] {
        let http: HTTPClient
        let api: TelegramBotAPI
        do {
            (http, api) = try BotApplication.telegramClient(configuration)
        } catch {
            return [Check(name: "telegram", ok: false, detail: "\(error)")]
        }
        defer { http.shutdown() }
        var checks: [Check] = []
        do {
            let me = try await api.getMe()
            checks.append(Check(name: "telegram token", ok: true, detail: "@\(me.username ?? "?") (id \(me.id))"))
        } catch {
            return [Check(name: "telegram token", ok: false, detail: "\(error)")]
        }
        do {
            let info = try await api.getWebhookInfo()
            let error = info.lastErrorMessage.map { ", last error: \($0)" } ?? ""
            switch configuration.updateMode {
            case .polling:
                checks.append(Check(
                    name: "webhook", ok: info.url.isEmpty,
                    detail: info.url.isEmpty ? "none (polling mode)" : "\(info.url) is set, so polling will fail: run `botserver webhook delete`"))
            case .webhook:
                let expected = configuration.webhookURL
                let matches = expected == nil ? !info.url.isEmpty : info.url == expected
                let state = info.url.isEmpty ? "not registered" : info.url
                checks.append(Check(
                    name: "webhook", ok: matches && info.lastErrorMessage == nil,
                    detail: "\(state), \(info.pendingUpdateCount) pending\(error)"
                        + (matches ? "" : expected.map { " (expected \($0): run `botserver webhook set`)" } ?? " (set PUBLIC_URL and run `botserver webhook set`)")))
            }
        } catch {
            checks.append(Check(name: "webhook", ok: false, detail: "\(error)"))
        }
        return checks
    }
}
