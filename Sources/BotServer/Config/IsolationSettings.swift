import ClaudeRunner
import Glibc

/// Who Claude runs as, and how much isolation the operator insists on:
/// - `CLAUDE_USER`: a user name, or a numeric `uid[:gid]`, that the CLI and every process it
///   starts run as (never root);
/// - `BOT_USER`: when the bot is started as root with CLAUDE_USER, the user it drops to;
/// - `REQUIRE_TOOL_ISOLATION`: `true` refuses to start unless Claude runs as a separate user.
struct IsolationSettings: Sendable, Equatable {
    var claudeUser: SystemUser?
    var botUser: SystemUser?
    var requireSeparateUser: Bool
    /// The secret files' paths (`*_FILE`, TLS_KEY_FILE): kept from Claude like DATA_DIR.
    var secretFiles: [String] = []

    /// The CLI user as the reaper takes it: its uid, primary gid and groups.
    var sandboxUser: ToolSandbox.User? {
        claudeUser.map { user in ToolSandbox.User(uid: user.uid, gid: user.gid, groups: user.groups.map { UInt32($0) }) }
    }

    /// Files whose content the bot keeps from Claude: the secrets given as files, and the
    /// HTTPS server's private key.
    static let secretFileVariables = [
        "TELEGRAM_BOT_TOKEN_FILE", "TELEGRAM_WEBHOOK_SECRET_FILE", "METRICS_TOKEN_FILE", "GIT_TOKEN_FILE",
        "TRANSCRIPTION_API_KEY_FILE", "TLS_KEY_FILE",
    ]

    static func load(from environment: Environment) throws(ConfigurationError) -> IsolationSettings {
        let claudeUser = try environment.optional("CLAUDE_USER").map { text throws(ConfigurationError) in
            try account("CLAUDE_USER", text, role: "Claude and its tools run as")
        }
        let botUser = try environment.optional("BOT_USER").map { text throws(ConfigurationError) in
            try account("BOT_USER", text, role: "the bot drops to when started as root")
        }
        if let claudeUser, let botUser, claudeUser.uid == botUser.uid {
            throw ConfigurationError(variable: "CLAUDE_USER", problem: "must be another user than BOT_USER (both are uid \(botUser.uid))")
        }
        return IsolationSettings(
            claudeUser: claudeUser, botUser: botUser,
            requireSeparateUser: try environment.choice(
                "REQUIRE_TOOL_ISOLATION", default: false, ["true": true, "false": false, "1": true, "0": false, "yes": true, "no": false]),
            secretFiles: secretFileVariables.compactMap { environment.optional($0) })
    }

    /// A name from the passwd database, or `uid[:gid]` (the gid defaults to the account's, or
    /// to the uid for a number with no account).
    static func account(_ variable: String, _ text: String, role: String) throws(ConfigurationError) -> SystemUser {
        let user: SystemUser
        if let first = text.first, first.isNumber {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
                throw ConfigurationError(variable: variable, problem: "must be a user name or a numeric uid[:gid], got \"\(text)\"")
            }
            let known = SystemUser.withID(uid)
            let gid = parts.count == 2 ? UInt32(parts[1])! : known?.gid ?? uid
            user = SystemUser(name: parts.count == 1 || gid == known?.gid ? known?.name : nil, uid: uid, gid: gid, home: known?.home)
        } else {
            guard let named = SystemUser.named(text) else {
                throw ConfigurationError(
                    variable: variable,
                    problem: "no user \"\(text)\" on this system: create it (`useradd --system --create-home \(text)`) or give a numeric uid")
            }
            user = named
        }
        guard user.uid != 0, user.gid != 0 else {
            throw ConfigurationError(variable: variable, problem: "must not be root: it is the unprivileged user \(role)")
        }
        return user
    }
}
