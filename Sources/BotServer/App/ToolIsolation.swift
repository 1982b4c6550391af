import ClaudeRunner
import Glibc
import Subprocess
import SystemPackage

/// How far Claude's tools are kept from the bot's secrets, established once at start:
/// - separate user: the CLI runs as CLAUDE_USER, which cannot read the bot's files, memory
///   or environment;
/// - same user, hardened: the CLI runs as the bot's own user, but the bot is non-dumpable with
///   its secrets wiped from its environment, and the CLI sees DATA_DIR and the secret files
///   covered (a private mount namespace);
/// - none: the CLI can read what the bot has (it runs as root, or the covers are impossible).
/// The start-up log and `botserver doctor` say which, with the fix; REQUIRE_TOOL_ISOLATION
/// refuses to start below a separate user.
struct ToolIsolation: Sendable {
    enum Level: String, Sendable {
        case separateUser = "separate user"
        case sameUserHardened = "same user, hardened"
        case none
    }

    let level: Level
    /// What that means here, in one sentence.
    let detail: String
    /// What to change to get to a separate user; nil there.
    let fix: String?
    /// Applied by the reaper to the CLI and to git.
    let claudeSandbox: ToolSandbox
    let gitSandbox: ToolSandbox

    /// "tool isolation: LEVEL: detail. Fix: ..."
    var line: String { "tool isolation: \(level.rawValue): \(detail)" + (fix.map { ". Fix: \($0)" } ?? "") }

    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// What the bot guards, for the checks: its data folder and secret files. GIT_SSH_KEY is
    /// git's: covered for Claude when it runs as the bot's user, but git itself needs it.
    struct Guarded: Sendable {
        var dataDirectory: String
        var secretFiles: [String]
        var sshKey: String?
    }

    /// Establishes the level: checks and prepares the folders the mode needs (a `Refusal`
    /// names the fix), proves the reaper can apply the sandbox, and refuses a level below
    /// REQUIRE_TOOL_ISOLATION's. `hardened`: the bot is non-dumpable with its environment
    /// wiped (ProcessHardening).
    static func establish(
        settings: IsolationSettings, reaper: String?, workspace: String, claudeHome: String?, guarded: Guarded,
        hardened: Bool, environment: [String: String]
    ) async throws(Refusal) -> ToolIsolation {
        let isolation = try await assess(
            settings: settings, reaper: reaper, workspace: workspace, claudeHome: claudeHome, guarded: guarded,
            hardened: hardened, environment: environment)
        if settings.requireSeparateUser && isolation.level != .separateUser {
            throw Refusal(description: "REQUIRE_TOOL_ISOLATION is true, but \(isolation.line)")
        }
        return isolation
    }

    private static func assess(
        settings: IsolationSettings, reaper: String?, workspace: String, claudeHome: String?, guarded: Guarded,
        hardened: Bool, environment: [String: String]
    ) async throws(Refusal) -> ToolIsolation {
        do {
            _ = try DirectoryOwnership.checkDataDirectory(guarded.dataDirectory)
        } catch {
            throw Refusal(description: error.description)
        }
        let dataDirectory = WorkspacePath.realPath(guarded.dataDirectory) ?? guarded.dataDirectory
        let secrets = guarded.secretFiles.map { WorkspacePath.realPath($0) ?? $0 }
        guard let reaper else {
            if settings.claudeUser != nil {
                throw Refusal(description: "CLAUDE_USER is set, but claude-reaper, which switches to it, is not beside botserver: install it there")
            }
            return ToolIsolation(
                level: .none, detail: "claude-reaper is not beside botserver, so nothing confines Claude's tools",
                fix: "install claude-reaper beside botserver and set CLAUDE_USER", claudeSandbox: ToolSandbox(), gitSandbox: ToolSandbox())
        }
        let probe = Probe(reaper: reaper, environment: environment)
        if let user = settings.claudeUser, let sandboxUser = settings.sandboxUser {
            if let claudeHome, (WorkspacePath.realPath(claudeHome) ?? claudeHome).hasPrefix(dataDirectory + "/") {
                throw Refusal(description: "CLAUDE_HOME \(claudeHome) is inside DATA_DIR \(dataDirectory), which only the bot may enter: give Claude "
                    + "a home of its own (the image uses /home/claude, a volume of its own; deploy/COOLIFY.md shows how to move a login)")
            }
            return try await separateUser(
                user, sandboxUser, probe: probe, workspace: workspace, claudeHome: claudeHome,
                guarded: [dataDirectory] + secrets)
        }
        guard geteuid() != 0 else {
            return ToolIsolation(
                level: .none, detail: "Claude runs as root and can read everything the bot has",
                fix: "set CLAUDE_USER to an unprivileged user (and BOT_USER to the bot's own, which it then drops to)",
                claudeSandbox: ToolSandbox(), gitSandbox: ToolSandbox())
        }
        let sshKey = guarded.sshKey.map { WorkspacePath.realPath($0) ?? $0 }
        return try await sameUser(probe: probe, workspace: workspace, covered: [dataDirectory] + secrets, sshKey: sshKey, hardened: hardened)
    }

    /// No CLAUDE_USER, not root: the CLI runs as the bot's user, with `covered` (and the ssh
    /// key, which git itself needs) covered in its view, if this system allows it.
    private static func sameUser(
        probe: Probe, workspace: String, covered guarded: [String], sshKey: String?, hardened: Bool
    ) async throws(Refusal) -> ToolIsolation {
        do {
            try DirectoryOwnership.checkOwnWorkspace(workspace)
        } catch {
            throw Refusal(description: error.description)
        }
        let covered = guarded + (sshKey.map { [$0] } ?? [])
        let sandbox = ToolSandbox(hiddenPaths: covered)
        let fix = "set CLAUDE_USER to a user of its own for Claude"
        switch await probe.run(sandbox, checking: covered) {
        case .ran(_, let readable) where readable.isEmpty:
            // git needs the key the CLI must not see.
            let gitSandbox = ToolSandbox(hiddenPaths: covered.filter { $0 != sshKey })
            guard hardened else {
                return ToolIsolation(
                    level: .none, detail: "Claude runs as the bot's user, and the bot could not close its own memory and environment to it",
                    fix: fix, claudeSandbox: sandbox, gitSandbox: gitSandbox)
            }
            return ToolIsolation(
                level: .sameUserHardened,
                detail: "Claude runs as the bot's user (uid \(geteuid())); the bot's memory and environment are closed to it, and DATA_DIR "
                    + "and the secret files are covered in its view, but it can still signal the bot or fill its disk",
                fix: fix, claudeSandbox: sandbox, gitSandbox: gitSandbox)
        case .ran(_, let readable):
            return ToolIsolation(
                level: .none, detail: "Claude runs as the bot's user and can still read \(readable.joined(separator: ", "))",
                fix: fix, claudeSandbox: ToolSandbox(), gitSandbox: ToolSandbox())
        case .failed(let reason):
            return ToolIsolation(
                level: .none, detail: "Claude runs as the bot's user and can read DATA_DIR (\(reason))",
                fix: fix, claudeSandbox: ToolSandbox(), gitSandbox: ToolSandbox())
        }
    }

    private static func separateUser(
        _ user: SystemUser, _ sandboxUser: ToolSandbox.User, probe: Probe, workspace: String, claudeHome: String?, guarded: [String]
    ) async throws(Refusal) -> ToolIsolation {
        guard user.uid != geteuid() else {
            throw Refusal(description: "CLAUDE_USER is the bot's own user (uid \(user.uid)): it must be another, unprivileged user")
        }
        guard SystemUser.currentGroups().contains(user.gid) else {
            let bot = SystemUser.withID(geteuid())
            throw Refusal(description: "the bot (\(bot?.label ?? "uid \(geteuid())")) must be a member of group \(SystemUser.groupName(user.gid)) "
                + "(gid \(user.gid), CLAUDE_USER's) to share the workspace with Claude: `usermod -aG \(SystemUser.groupName(user.gid)) \(bot?.name ?? "BOT")`, "
                + "or start the bot as root with BOT_USER")
        }
        // Files either user creates in the workspace are the other's to change.
        umask(0o002)
        do {
            try DirectoryOwnership.checkSharedWorkspace(workspace, group: user.gid)
        } catch {
            throw Refusal(description: error.description)
        }
        let userOnly = ToolSandbox(user: sandboxUser)
        if let claudeHome {
            let exists: Bool
            do {
                exists = try DirectoryOwnership.checkClaudeHome(claudeHome, user: user)
            } catch {
                throw Refusal(description: error.description)
            }
            if !exists, case .failed(let reason) = await probe.run(userOnly, command: ["mkdir", "-p", "-m", "700", claudeHome]) {
                throw Refusal(description: "CLAUDE_HOME \(claudeHome) is missing and \(user.label) cannot create it (\(reason)): "
                    + "`mkdir -p \(claudeHome) && chown \(user.uid):\(user.gid) \(claudeHome)`")
            }
        }
        switch await probe.run(userOnly, checking: guarded) {
        case .failed(let reason):
            throw Refusal(description: "CLAUDE_USER is \(user.label), but claude-reaper cannot run a command as that user: \(reason)")
        case .ran(let uid, _) where uid != user.uid:
            throw Refusal(description: "CLAUDE_USER is \(user.label), but claude-reaper ran its command as uid \(uid.map(String.init) ?? "?")")
        case .ran(_, let readable) where readable.isEmpty:
            return ToolIsolation(
                level: .separateUser,
                detail: "Claude runs as \(user.label), the bot as \(SystemUser.withID(geteuid())?.label ?? "uid \(geteuid())")",
                fix: nil, claudeSandbox: userOnly, gitSandbox: userOnly)
        case .ran(_, let readable):
            // Readable by that user too (a world-readable secret file, say): covered in its
            // view where the system allows it, else named.
            let covered = ToolSandbox(user: sandboxUser, hiddenPaths: readable)
            if case .ran(_, let still) = await probe.run(covered, checking: readable), still.isEmpty {
                return ToolIsolation(
                    level: .separateUser,
                    detail: "Claude runs as \(user.label), the bot as \(SystemUser.withID(geteuid())?.label ?? "uid \(geteuid())"); "
                        + "\(readable.joined(separator: ", ")) would be readable by it and are covered in its view",
                    fix: nil, claudeSandbox: covered, gitSandbox: covered)
            }
            return ToolIsolation(
                level: .none, detail: "Claude runs as \(user.label), but that user can read \(readable.joined(separator: ", "))",
                fix: "make them readable by the bot only (`chmod 600`, owned by the bot)", claudeSandbox: userOnly, gitSandbox: userOnly)
        }
    }
}

/// Runs a command through the reaper under a sandbox, the way the CLI will be run: whether it
/// can, who it ran as, and which of the guarded paths it could read.
private struct Probe {
    let reaper: String
    let environment: [String: String]

    enum Result {
        case ran(uid: UInt32?, readable: [String])
        case failed(String)
    }

    /// A folder counts as readable when it can be listed or entered; a file when it has
    /// content to read (a covered file is an empty /dev/null).
    static let script = """
        id -u
        for p do
          if [ -d "$p" ]; then { [ -r "$p" ] || [ -x "$p" ]; } && echo "$p"
          elif [ -r "$p" ] && [ -s "$p" ]; then echo "$p"
          fi
        done
        exit 0
        """

    func run(_ sandbox: ToolSandbox, checking paths: [String]) async -> Result {
        await run(sandbox, command: ["sh", "-c", Self.script, "sh"] + paths) { output in
            let lines = output.split(separator: "\n").map(String.init)
            return .ran(uid: lines.first.flatMap { UInt32($0) }, readable: Array(lines.dropFirst()))
        }
    }

    func run(_ sandbox: ToolSandbox, command: [String]) async -> Result {
        await run(sandbox, command: command) { _ in .ran(uid: nil, readable: []) }
    }

    private func run(_ sandbox: ToolSandbox, command: [String], parse: (String) -> Result) async -> Result {
        do {
            let result = try await Subprocess.run(
                .path(FilePath(reaper)), arguments: Arguments(sandbox.reaperArguments + command),
                environment: .custom(Dictionary(uniqueKeysWithValues: environment.compactMap { key, value in
                    Subprocess.Environment.Key(rawValue: key).map { ($0, value) }
                })),
                workingDirectory: FilePath("/"), input: .none, output: .string(limit: 64 << 10), error: .string(limit: 16 << 10))
            guard case .exited(0) = result.terminationStatus else {
                let reason = result.standardError.trimmingWhitespace()
                return .failed(reason.isEmpty ? "\(result.terminationStatus)" : reason)
            }
            return parse(result.standardOutput)
        } catch {
            return .failed("cannot run \(reaper): \(error)")
        }
    }
}
