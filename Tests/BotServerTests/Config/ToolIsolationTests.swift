import Foundation
import Glibc
import Subprocess
import Synchronization
import Testing
import TestSupport

@testable import BotServer

/// How the bot says and enforces where Claude's tools stand (ToolIsolation): the settings,
/// the start-up log and doctor at each level, REQUIRE_TOOL_ISOLATION, a claude-reaper with
/// file capabilities (the image's way), and folders with the wrong owner.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ToolIsolationTests {
    @Test func theSettingsRefuseRootUnknownUsersAndOneUserForBoth() throws {
        func problem(_ values: [String: String]) -> String? {
            do {
                _ = try IsolationSettings.load(from: Environment(values))
                return nil
            } catch {
                return error.description
            }
        }
        #expect(problem(["CLAUDE_USER": "0"])?.contains("CLAUDE_USER: must not be root") == true)
        #expect(problem(["CLAUDE_USER": "root"])?.contains("must not be root") == true)
        #expect(problem(["CLAUDE_USER": "12345:0"])?.contains("must not be root") == true)
        #expect(problem(["CLAUDE_USER": "no-such-user-here"])?.contains("no user \"no-such-user-here\"") == true)
        #expect(problem(["CLAUDE_USER": "12x"])?.contains("a user name or a numeric uid[:gid]") == true)
        #expect(problem(["CLAUDE_USER": "12345", "BOT_USER": "12345"])?.contains("must be another user than BOT_USER") == true)
        #expect(problem(["REQUIRE_TOOL_ISOLATION": "maybe"])?.contains("REQUIRE_TOOL_ISOLATION") == true)
        let numeric = try IsolationSettings.load(from: Environment(["CLAUDE_USER": "54321:54322", "REQUIRE_TOOL_ISOLATION": "true"]))
        #expect(numeric.claudeUser?.uid == 54321 && numeric.claudeUser?.gid == 54322 && numeric.requireSeparateUser)
        #expect(numeric.sandboxUser?.groups == [54322])
    }

    /// A folder tree for one bot: data, a workspace and Claude's home beside each other.
    private struct Layout {
        let directory: TemporaryDirectory
        var data: String { directory.path + "/data" }
        var workspace: String { directory.path + "/workspace" }
        var home: String { directory.path + "/home" }

        init() throws {
            directory = try TemporaryDirectory()
            chmod(directory.path, 0o755)
            for folder in [data, workspace, home] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        }

        /// Owned as the image has them: data the bot's (0700), the workspace Claude's and
        /// shared (2775), Claude's home its own (0700).
        func ownAsTheImage() throws {
            let bot = try #require(TestAccounts.bot), claude = try #require(TestAccounts.claude)
            TestAccounts.give(data, to: bot.uid, bot.gid)
            chmod(data, 0o700)
            TestAccounts.give(workspace, to: claude.uid, claude.gid)
            TestAccounts.share(workspace)
            TestAccounts.give(home, to: claude.uid, claude.gid)
            chmod(home, 0o700)
        }

        func environment(_ extra: [String: String] = [:], port: Int = freeLoopbackPort()) -> [String: String] {
            BotProcess.environment(dataDirectory: data, port: port, extra: [
                "WORKSPACE_ROOT": workspace, "CLAUDE_HOME": home, "CLAUDE_BIN": ClaudeCLI.testBinary, "ANTHROPIC_API_KEY": "sk-test",
            ].merging(extra) { $1 })
        }
    }

    /// Starts serve, waits until it is ready or gone, stops it; returns how it ended and its log.
    private func serve(
        _ environment: [String: String], account: TestAccounts.Account? = nil, groups: [gid_t] = [], binary: String = BotProcess.binaryPath
    ) async throws -> (status: TerminationStatus, log: String, ready: Bool) {
        let port = Int(environment["PORT"] ?? "") ?? 0
        let ready = Mutex(false)
        let (status, log) = try await BotProcess.run(environment: environment, account: account, groups: groups, binary: binary) { execution in
            // Until it is ready or has exited: a bot that refused to start must not linger as
            // a zombie of this test process, where other suites look for leftovers.
            let pid = execution.processIdentifier.value
            let up = await eventually(within: .seconds(20)) {
                await waitForHTTP(port: port, path: "/readyz", attempts: 1) || Self.hasExited(pid)
            } && !Self.hasExited(pid)
            ready.withLock { $0 = up }
            try? execution.send(signal: .terminate)
        }
        return (status, log, ready.withLock { $0 })
    }

    /// Exited (a zombie, or already reaped). Asked of the kernel without reaping it: reading
    /// /proc/PID/stat can fail for a moment while the process executes itself again (a bot
    /// started as root drops to BOT_USER that way), which looked like an exit.
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return true }
        return info._sifields._sigchld.si_pid == pid
    }

    @Test func requireToolIsolationRefusesToStartBelowASeparateUser() async throws {
        let layout = try Layout()
        defer { layout.directory.remove() }
        let refused = try await serve(layout.environment(["REQUIRE_TOOL_ISOLATION": "true"]))
        #expect(refused.status == .exited(1) && !refused.ready, "\(refused.log.suffix(2000))")
        #expect(refused.log.contains("botserver: REQUIRE_TOOL_ISOLATION is true, but tool isolation: "), "\(refused.log.suffix(2000))")
        #expect(refused.log.contains("Fix: set CLAUDE_USER"))
        guard TestAccounts.available, let bot = TestAccounts.bot, let claude = TestAccounts.claude else { return }
        // Started as root with CLAUDE_USER, the same requirement is met.
        try layout.ownAsTheImage()
        let started = try await serve(layout.environment(["REQUIRE_TOOL_ISOLATION": "true", "CLAUDE_USER": claude.name, "BOT_USER": bot.name]))
        #expect(started.ready && started.status == .exited(0), "\(started.log.suffix(2000))")
        #expect(started.log.contains("tool isolation: separate user: Claude runs as \(claude.name) (uid \(claude.uid)), the bot as \(bot.name) (uid \(bot.uid))"))
    }

    @Test(.enabled(if: TestAccounts.available, "\(TestAccounts.skipReason)"))
    func doctorShowsEachLevel() async throws {
        let bot = try #require(TestAccounts.bot), claude = try #require(TestAccounts.claude)
        let layout = try Layout()
        defer { layout.directory.remove() }
        let asRoot = try await BotProcess.command(["doctor"], environment: layout.environment())
        #expect(asRoot.output.contains("✔ tool isolation: none: Claude runs as root"), "\(asRoot.output)")

        try layout.ownAsTheImage()
        let separate = try await BotProcess.command(["doctor"], environment: layout.environment(["CLAUDE_USER": claude.name, "BOT_USER": bot.name]))
        #expect(separate.output.contains("✔ tool isolation: separate user: Claude runs as \(claude.name)"), "\(separate.output)")
        // Checked as Claude runs: the CLI answers --version as that user.
        #expect(separate.output.contains("✔ claude: "), "\(separate.output)")

        TestAccounts.give(layout.directory.path, to: bot.uid, bot.gid)
        let hardened = try await BotProcess.command(["doctor"], environment: layout.environment(), account: bot)
        #expect(hardened.output.contains("✔ tool isolation: same user, hardened: Claude runs as the bot's user (uid \(bot.uid))"), "\(hardened.output)")
    }

    /// The image's way: an unprivileged bot, and a claude-reaper that carries cap_setuid and
    /// cap_setgid. Without them the bot refuses to start, with the fix.
    @Test(.enabled(if: TestAccounts.available, "\(TestAccounts.skipReason)"))
    func aReaperWithFileCapabilitiesLetsAnUnprivilegedBotSwitchUsers() async throws {
        let bot = try #require(TestAccounts.bot), claude = try #require(TestAccounts.claude)
        let layout = try Layout()
        defer { layout.directory.remove() }
        try layout.ownAsTheImage()
        let bin = layout.directory.path + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let builds = URL(fileURLWithPath: BotProcess.binaryPath).deletingLastPathComponent().path
        for name in ["botserver", "claude-reaper"] {
            try FileManager.default.copyItem(atPath: builds + "/" + name, toPath: bin + "/" + name)
        }
        // As in the image: root:bot 0750, so only the bot's group may run it.
        chown(bin + "/claude-reaper", 0, bot.gid)
        chmod(bin + "/claude-reaper", 0o750)
        let environment = layout.environment(["CLAUDE_USER": claude.name])

        let without = try await serve(environment, account: bot, groups: [claude.gid], binary: bin + "/botserver")
        #expect(without.status == .exited(1) && !without.ready)
        #expect(without.log.contains("claude-reaper cannot run a command as that user") && without.log.contains("setcap cap_setuid,cap_setgid+ep"), "\(without.log.suffix(2000))")

        let (status, output) = try await offCooperativePool { try ChildProcess.run(["setcap", "cap_setuid,cap_setgid+ep", bin + "/claude-reaper"]) }
        try #require(status == 0, "setcap: \(output)")
        let with = try await serve(environment, account: bot, groups: [claude.gid], binary: bin + "/botserver")
        #expect(with.ready && with.status == .exited(0), "\(with.log.suffix(2000))")
        #expect(with.log.contains("tool isolation: separate user: Claude runs as \(claude.name)"), "\(with.log.suffix(2000))")
    }

    @Test(.enabled(if: TestAccounts.available, "\(TestAccounts.skipReason)"))
    func foldersWithTheWrongOwnerStopStartUpWithTheCommandThatFixesThem() async throws {
        let bot = try #require(TestAccounts.bot), claude = try #require(TestAccounts.claude)
        let layout = try Layout()
        defer { layout.directory.remove() }
        try layout.ownAsTheImage()
        let separate = layout.environment(["CLAUDE_USER": claude.name, "BOT_USER": bot.name])

        TestAccounts.give(layout.data, to: claude.uid, claude.gid)
        let data = try await serve(separate)
        #expect(data.status == .exited(1), "\(data.log.suffix(2000))")
        #expect(data.log.contains("DATA_DIR \(layout.data) belongs to uid \(claude.uid), but the bot runs as uid \(bot.uid): `chown -R \(bot.uid):"), "\(data.log.suffix(2000))")
        TestAccounts.give(layout.data, to: bot.uid, bot.gid)

        TestAccounts.give(layout.home, to: bot.uid, bot.gid)
        let home = try await serve(separate)
        #expect(home.log.contains("CLAUDE_HOME \(layout.home) belongs to uid \(bot.uid), but Claude runs as \(claude.name) (uid \(claude.uid)): `chown -R \(claude.uid):\(claude.gid) \(layout.home)`"), "\(home.log.suffix(2000))")
        TestAccounts.give(layout.home, to: claude.uid, claude.gid)

        TestAccounts.give(layout.workspace, to: 0, 0)
        chmod(layout.workspace, 0o755)
        let workspace = try await serve(separate)
        #expect(workspace.status == .exited(1))
        #expect(workspace.log.contains("WORKSPACE_ROOT \(layout.workspace) must belong to group \(claude.name) (gid \(claude.gid), CLAUDE_USER's)")
            && workspace.log.contains("chmod 2775 \(layout.workspace)"), "\(workspace.log.suffix(2000))")

        // A workspace the bot owns it fixes itself; DATA_DIR open to others it closes.
        TestAccounts.give(layout.workspace, to: bot.uid, bot.gid)
        chmod(layout.data, 0o755)
        let fixed = try await serve(separate)
        #expect(fixed.ready && fixed.status == .exited(0), "\(fixed.log.suffix(2000))")
        var info = stat()
        #expect(stat(layout.workspace, &info) == 0 && info.st_gid == claude.gid && info.st_mode & 0o7777 == 0o2775)
        #expect(stat(layout.data, &info) == 0 && info.st_mode & 0o777 == 0o700)
    }
}
