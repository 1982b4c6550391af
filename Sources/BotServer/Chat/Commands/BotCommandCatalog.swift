/// The bot's own commands: what setMyCommands publishes, /help lists, and the router knows.
enum BotCommandCatalog {
    /// The headings of /help, in its order.
    enum Group: String, CaseIterable, Sendable {
        case conversation = "Conversation", project = "Project", git = "Git", settings = "Settings"
    }

    struct Entry: Sendable {
        let name: String
        /// The command menu's line.
        let description: String
        let group: Group
        /// What /help says after the command, in a word or three (nil: the name says it;
        /// `listed` false: not in /help at all, only in the menu).
        var hint: String? = nil
        var listed = true
    }

    // In /help's order: the menu lists them the same way.
    static let entries: [Entry] = [
        Entry(name: "new", description: "Start a fresh Claude session", group: .conversation, hint: "fresh session"),
        Entry(name: "cancel", description: "Stop what Claude is doing", group: .conversation, hint: "stop Claude"),
        Entry(name: "status", description: "Project, session, mode, model and what is running", group: .conversation, hint: "where things stand"),
        Entry(name: "sessions", description: "Recent sessions of this project", group: .conversation, hint: "pick up an earlier one"),
        Entry(name: "resume", description: "Continue an earlier session", group: .conversation, listed: false),
        Entry(name: "cost", description: "Spending today, this week and per session", group: .conversation, hint: "spending"),
        Entry(name: "projects", description: "Pick a project folder", group: .project, hint: "pick one"),
        Entry(name: "cd", description: "Change folder: /cd name", group: .project, hint: "folder"),
        Entry(name: "ls", description: "List the current folder", group: .project),
        Entry(name: "pwd", description: "Show the current folder", group: .project, listed: false),
        Entry(name: "get", description: "Send a file of the project: /get path", group: .project, hint: "file"),
        Entry(name: "clone", description: "Clone a repository: /clone URL [name]", group: .project, hint: "URL"),
        Entry(name: "init", description: "A new repository: /init name (alone: Claude's /init)", group: .project, hint: "name"),
        Entry(name: "diff", description: "Uncommitted changes (/diff path for one file)", group: .git),
        Entry(name: "commit", description: "Commit everything: /commit message", group: .git),
        Entry(name: "push", description: "Push the branch (asks first)", group: .git),
        Entry(name: "pull", description: "Pull, fast-forward only; /pull merge merges", group: .git),
        Entry(name: "log", description: "Recent commits: /log 20", group: .git),
        Entry(name: "branch", description: "Branches; /branch name creates one", group: .git),
        Entry(name: "stash", description: "Stash changes; /stash pop restores them", group: .git),
        Entry(name: "undo", description: "Discard uncommitted changes (asks first)", group: .git),
        Entry(name: "mode", description: "Permission mode: default, acceptEdits, plan, bypassPermissions", group: .settings, hint: "what Claude may do unasked"),
        Entry(name: "model", description: "Claude model: /model name, or /model default", group: .settings),
        Entry(name: "permissions", description: "Always-allow rules of this project, to revoke", group: .settings, hint: "always-allow rules"),
        Entry(name: "help", description: "What this bot can do", group: .settings, listed: false),
        Entry(name: "start", description: "Welcome and quick start", group: .settings, listed: false),
    ]

    static let names = Set(entries.map(\.name))

    /// Claude Code's own slash commands that make sense from a phone: sent to Claude as typed.
    static let claudeCommands: Set<String> = [
        "compact", "context", "review", "pr_comments", "security_review", "todos", "memory",
    ]

    /// Claude's /init (write CLAUDE.md) when given alone; `/init name` is the bot's (a new repository).
    static func isClaudeCommand(_ command: ParsedCommand) -> Bool {
        claudeCommands.contains(command.name) || (command.name == "init" && command.arguments.isEmpty)
    }

    static var botCommands: [BotCommand] {
        entries.map { BotCommand(command: $0.name, description: $0.description) }
    }

    /// A screen, not a manual: the commands under four headings, a few words each (the
    /// menu's descriptions say more).
    static var helpText: String {
        var lines = [
            "<b>Claude Code from Telegram</b>",
            "Send a message and Claude works on it in the current project; you watch it live. What you send meanwhile is queued.",
        ]
        for group in Group.allCases {
            let listed = entries.filter { $0.group == group && $0.listed }
            lines.append("")
            lines.append("<b>\(group.rawValue)</b>")
            lines.append(listed.map { "/" + $0.name + ($0.hint.map { " " + TelegramHTML.escape($0) } ?? "") }.joined(separator: " · "))
        }
        lines.append("")
        lines.append("Claude's own commands (/compact, /review, …) go to Claude.")
        return lines.joined(separator: "\n")
    }
}
