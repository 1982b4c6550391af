import Glibc

/// How the runner starts the CLI: shared by every session.
public struct ClaudeConfiguration: Sendable {
    /// The `claude` binary (CLAUDE_BIN); a bare name is looked up on PATH.
    public var executable: String
    /// `claude-reaper`, which runs the CLI as its child subreaper so that nothing the CLI
    /// starts outlives it (built with this package, installed beside `botserver`). nil: the
    /// host process becomes the subreaper itself, which also reaps only what it kills.
    public var reaper: String? = ClaudeConfiguration.reaperBesideExecutable()
    /// The CLI's whole environment, built with `minimalEnvironment`: never the bot's own
    /// secrets. The runner adds its process marker and CLAUDE_CODE_MAX_RETRIES.
    public var environment: [String: String]
    /// The CLI retries API errors itself (a bad key 10 times over ~3 minutes by default).
    public var maxRetries = 2
    /// Appended to Claude Code's own system prompt, which is kept.
    public var appendSystemPrompt: String? = ClaudeConfiguration.phoneNote
    /// Stream text deltas (`--include-partial-messages`).
    public var includePartialMessages = true
    /// An idle process is stopped after this; the next message resumes the session.
    public var idleTimeout: Duration = .seconds(600)
    /// A whole run, approvals included, is interrupted after this.
    public var runTimeout: Duration = .seconds(3600)
    /// No output at all for this long (outside approvals) interrupts the run.
    public var silenceTimeout: Duration = .seconds(600)
    /// Each stop step (stdin closed, SIGTERM) gets this long before the next.
    public var stopGracePeriod: Duration = .seconds(3)
    public var maxLineLength = 64 << 20
    public var stderrLimit = 64 << 10

    public static let phoneNote = """
        The user talks to you from a phone, through a Telegram bot: they read your replies on a \
        small screen and answer approval requests with buttons. Keep replies short and skimmable; \
        put code and commands in fenced blocks; say plainly what you changed.
        """

    /// `claude-reaper` in the directory of the running program, if it is there.
    public static func reaperBesideExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let candidate = String(path[..<slash]) + "/claude-reaper"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }

    public init(executable: String, environment: [String: String]) {
        self.executable = executable
        self.environment = environment
    }

    /// Variables the CLI needs from the host, and only those: the shell basics, the Anthropic
    /// credentials and endpoints, and an explicit allow-list. Nothing else of the host's
    /// environment (the bot token, the webhook secret, ...) reaches Claude or its tools.
    public static func minimalEnvironment(from host: [String: String], home: String, allow: [String] = [])
        -> [String: String]
    {
        let passed = [
            "PATH", "LANG", "LC_ALL", "TZ", "TMPDIR",
            "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL",
            "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL",
            "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "API_TIMEOUT_MS",
            "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
        ] + allow
        var environment: [String: String] = [:]
        for name in passed { if let value = host[name] { environment[name] = value } }
        environment["HOME"] = home
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["LANG"] = environment["LANG"] ?? "C.UTF-8"
        return environment
    }
}

public enum PermissionMode: String, Sendable, CaseIterable {
    case `default`, acceptEdits, plan, bypassPermissions, dontAsk
}

/// One conversation with Claude: where it works, which session, how it is allowed to act.
public struct SessionOptions: Sendable {
    public var workingDirectory: String
    /// Chosen by the host up front (a UUID), so it is known before the CLI says anything.
    public var sessionID: String
    /// The session exists already (its transcript is on disk): start the CLI with --resume.
    public var resume: Bool
    public var model: String?
    public var permissionMode: PermissionMode = .default
    public var allowedTools: [String] = []
    public var disallowedTools: [String] = []
    public var maxTurns: Int?

    public init(workingDirectory: String, sessionID: String, resume: Bool) {
        self.workingDirectory = workingDirectory
        self.sessionID = sessionID
        self.resume = resume
    }
}
