import Glibc

/// How the runner starts the CLI: shared by every session.
public struct ClaudeConfiguration: Sendable {
    /// The `claude` binary (CLAUDE_BIN); a bare name is looked up on PATH.
    public var executable: String
    /// `claude-reaper`, which runs the CLI as its child subreaper so that nothing the CLI
    /// starts outlives it (built with this package, installed beside `botserver`). nil: the
    /// host process becomes the subreaper itself, which also reaps only what it kills.
    public var reaper: String? = ClaudeConfiguration.reaperBesideExecutable()
    /// Who the CLI and its tools run as and what they may not see; applied by the reaper,
    /// so a non-empty sandbox needs one.
    public var sandbox = ToolSandbox()
    /// The CLI's whole environment, built with `minimalEnvironment`: never the bot's own
    /// secrets. The runner adds its process marker and CLAUDE_CODE_MAX_RETRIES.
    public var environment: [String: String]
    /// The CLI retries API errors itself (a bad key 10 times over ~3 minutes by default).
    public var maxRetries = 2
    /// Appended to Claude Code's own system prompt, which is kept.
    public var appendSystemPrompt: String? = ClaudeConfiguration.phoneNote
    /// Stream text deltas (`--include-partial-messages`).
    public var includePartialMessages = true
    /// How much nicer than the host the CLI and its tools run (0-19): Claude's builds and
    /// tests then take only CPU the host's own work (acknowledging updates, answering
    /// buttons) does not need. Applied by `claude-reaper`, or coreutils `nice` without one.
    public var niceness = 0
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

    /// Why a CLAUDE_* setting cannot be used; names the variable.
    public struct SettingError: Error, Sendable, Equatable, CustomStringConvertible {
        public let variable: String
        public let problem: String
        public var description: String { "\(variable): \(problem)" }
    }

    /// The runner's settings from the host's environment:
    /// - `CLAUDE_BIN`: the binary (default `claude`, looked up on PATH);
    /// - `CLAUDE_CODE_MAX_RETRIES`: API retries of the CLI (default 2, 0-10);
    /// - `CLAUDE_ENV_ALLOW`: comma-separated names of further variables to pass to the CLI
    ///   (e.g. `GH_TOKEN,NPM_TOKEN` for its tools);
    /// - `CLAUDE_NICENESS`: how much nicer than the host the CLI runs (default 5, 0-19);
    /// - `CLAUDE_IDLE_TIMEOUT`, `CLAUDE_RUN_TIMEOUT`, `CLAUDE_SILENCE_TIMEOUT`: seconds.
    /// `home` is the HOME the CLI gets (its sessions and settings live there).
    public static func fromEnvironment(_ host: [String: String], home: String) throws(SettingError) -> ClaudeConfiguration {
        func value(_ name: String) -> String? {
            guard let raw = host[name].map(trimmed), !raw.isEmpty else { return nil }
            return raw
        }
        func seconds(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(SettingError) -> Duration {
            guard let text = value(name) else { return .seconds(fallback) }
            guard let number = Int(text), range.contains(number) else {
                throw SettingError(variable: name, problem: "must be whole seconds from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            }
            return .seconds(number)
        }
        let allow = (value("CLAUDE_ENV_ALLOW") ?? "").split(separator: ",").map { trimmed(String($0)) }.filter { !$0.isEmpty }
        for name in allow where !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw SettingError(variable: "CLAUDE_ENV_ALLOW", problem: "\"\(name)\" is not a variable name")
        }
        var configuration = ClaudeConfiguration(
            executable: value("CLAUDE_BIN") ?? "claude", environment: minimalEnvironment(from: host, home: home, allow: allow))
        if let text = value("CLAUDE_CODE_MAX_RETRIES") {
            guard let retries = Int(text), (0...10).contains(retries) else {
                throw SettingError(variable: "CLAUDE_CODE_MAX_RETRIES", problem: "must be a whole number from 0 to 10, got \"\(text)\"")
            }
            configuration.maxRetries = retries
        }
        if let text = value("CLAUDE_NICENESS") {
            guard let niceness = Int(text), (0...19).contains(niceness) else {
                throw SettingError(variable: "CLAUDE_NICENESS", problem: "must be a whole number from 0 to 19, got \"\(text)\"")
            }
            configuration.niceness = niceness
        } else {
            configuration.niceness = 5
        }
        configuration.idleTimeout = try seconds("CLAUDE_IDLE_TIMEOUT", default: 600, range: 10...86_400)
        configuration.runTimeout = try seconds("CLAUDE_RUN_TIMEOUT", default: 3600, range: 60...86_400)
        configuration.silenceTimeout = try seconds("CLAUDE_SILENCE_TIMEOUT", default: 600, range: 30...86_400)
        return configuration
    }

    private static func trimmed(_ text: String) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
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
            // The image pins the CLI: it must not replace itself (the image sets it to 1).
            "DISABLE_AUTOUPDATER",
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
