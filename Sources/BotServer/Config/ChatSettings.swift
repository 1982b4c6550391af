import ClaudeRunner

/// What `serve` needs beyond the transport: who may use the bot, where Claude works, how
/// runs are paced and shown. Read once at start; README.md and deploy/.env.example list
/// every variable.
struct ChatSettings: Sendable {
    /// Users who may talk to the bot. Admins are allowed too.
    var allowedUserIDs: Set<Int64>
    /// May use bypassPermissions.
    var adminUserIDs: Set<Int64>
    /// Absolute, symlinks resolved: every project lives under it.
    var workspaceRoot: String
    /// A folder under the root where new conversations start, when set.
    var defaultProject: String?
    /// Claude processes running at once across all conversations; more wait their turn.
    var maxConcurrentRuns: Int
    /// Claude processes kept alive between runs (MAX_WARM_SESSIONS); the least recently used beyond it are stopped.
    var warmSessions: WarmSessionLimit
    /// Forwarded messages arriving within this window become one prompt (0: off).
    var forwardCollectWindow: Duration
    /// Shortest time between two edits of a progress message in a private chat (groups: 3×).
    var progressInterval: Duration
    /// A run with no event for this long gets a "still working" note with a Cancel button.
    var silenceNotice: Duration
    /// Answers of more messages than this go out as a .md document.
    var maxAnswerMessages: Int
    /// An approval nobody answers is denied after this long.
    var approvalTimeout: Duration
    /// "Continue at" runs this long after the time a usage limit said it resets.
    var continueAfterReset: Duration
    /// Stream partial answers with sendMessageDraft in private chats.
    var draftStreaming: Bool
    var claude: ClaudeConfiguration
    /// How git runs: credentials for remotes, the author identity, its time limit.
    var git: Git
    /// Voice notes to text; nil: not configured (voice notes are answered with how to set one).
    var transcriber: Transcriber?
    /// Scratch files (answers sent as documents); under DATA_DIR.
    var temporaryDirectory: String
    /// Who Claude runs as (CLAUDE_USER); the sandbox itself is set at start (ToolIsolation).
    var isolation: IsolationSettings
    /// CLAUDE_HOME as configured (the CLI's HOME).
    var claudeHome: String { claude.environment["HOME"] ?? "/root" }

    func isAllowed(_ userID: Int64) -> Bool { allowedUserIDs.contains(userID) || adminUserIDs.contains(userID) }
    func isAdmin(_ userID: Int64) -> Bool { adminUserIDs.contains(userID) }

    static func load(from environment: Environment, currentDirectory: String, dataDirectory: String) throws(ConfigurationError) -> ChatSettings {
        let allowed = try userIDs(environment, "ALLOWED_USER_IDS", required: true)
        let admins = try userIDs(environment, "ADMIN_USER_IDS", required: false)
        let rootSetting = environment.optional("WORKSPACE_ROOT") ?? "./workspace"
        let root: String
        do {
            root = try WorkspaceRoot.prepare(rootSetting, relativeTo: currentDirectory)
        } catch {
            throw ConfigurationError(variable: "WORKSPACE_ROOT", problem: "\(error)")
        }
        var defaultProject: String?
        if let project = environment.optional("DEFAULT_PROJECT") {
            guard case .success(let path) = WorkspacePath.resolve(project, in: root, from: root), path != root else {
                throw ConfigurationError(
                    variable: "DEFAULT_PROJECT", problem: "must name an existing folder under WORKSPACE_ROOT (\(root)), got \"\(project)\"")
            }
            defaultProject = path
        }
        let isolation = try IsolationSettings.load(from: environment)
        // A CLAUDE_USER's own home by default: the bot's HOME is not that user's to write.
        let home = environment.optional("CLAUDE_HOME") ?? isolation.claudeUser?.home ?? environment.optional("HOME") ?? "/root"
        var claude: ClaudeConfiguration
        do {
            claude = try ClaudeConfiguration.fromEnvironment(environment.values, home: home)
        } catch {
            throw ConfigurationError(variable: error.variable, problem: error.problem)
        }
        // /cancel promises the process group is gone within 5 s: each stop step waits at most this.
        claude.stopGracePeriod = .seconds(1)
        var git = Git(
            timeout: .seconds(try environment.integer("GIT_TIMEOUT_SECONDS", default: 120, range: 5...3600)),
            token: environment.optional("GIT_TOKEN"), sshKeyPath: environment.optional("GIT_SSH_KEY"),
            authorName: environment.optional("GIT_AUTHOR_NAME"), authorEmail: environment.optional("GIT_AUTHOR_EMAIL"),
            environment: ["PATH": environment.optional("PATH") ?? "/usr/local/bin:/usr/bin:/bin", "HOME": home])
        git.reaper = claude.reaper
        return ChatSettings(
            allowedUserIDs: allowed, adminUserIDs: admins, workspaceRoot: root, defaultProject: defaultProject,
            maxConcurrentRuns: try environment.integer("MAX_CONCURRENT_RUNS", default: 3, range: 1...64),
            warmSessions: try WarmSessionLimit.load(from: environment, memory: MemoryInfo.current()),
            forwardCollectWindow: .milliseconds(try environment.integer("FORWARD_COLLECT_MS", default: 500, range: 0...10_000)),
            progressInterval: .milliseconds(try environment.integer("PROGRESS_EDIT_INTERVAL_MS", default: 1000, range: 300...60_000)),
            silenceNotice: .seconds(try environment.integer("SILENCE_NOTICE_SECONDS", default: 120, range: 5...86_400)),
            maxAnswerMessages: try environment.integer("ANSWER_MAX_MESSAGES", default: 5, range: 1...50),
            approvalTimeout: .seconds(try environment.integer("APPROVAL_TIMEOUT", default: 600, range: 5...86_400)),
            continueAfterReset: .seconds(try environment.integer("CONTINUE_AFTER_RESET_SECONDS", default: 30, range: 0...3600)),
            draftStreaming: try environment.choice("DRAFT_STREAMING", default: true, ["on": true, "off": false, "true": true, "false": false, "1": true, "0": false]),
            claude: claude,
            git: git,
            transcriber: try Transcriber.fromEnvironment(environment),
            temporaryDirectory: dataDirectory + "/tmp",
            isolation: isolation)
    }

    private static func userIDs(_ environment: Environment, _ name: String, required: Bool) throws(ConfigurationError) -> Set<Int64> {
        guard let text = environment.optional(name) else {
            if required {
                throw ConfigurationError(
                    variable: name,
                    problem: "is required but not set (comma-separated Telegram user ids, e.g. 123456789,987654321; @userinfobot tells you yours)")
            }
            return []
        }
        var ids = Set<Int64>()
        for part in text.split(separator: ",") {
            let item = String(part).trimmingWhitespace()
            guard !item.isEmpty else { continue }
            guard let id = Int64(item), id > 0 else {
                throw ConfigurationError(variable: name, problem: "\"\(item)\" is not a Telegram user id (a positive number)")
            }
            ids.insert(id)
        }
        if required && ids.isEmpty {
            throw ConfigurationError(variable: name, problem: "lists no user id")
        }
        return ids
    }
}
