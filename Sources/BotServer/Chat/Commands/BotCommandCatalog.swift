/// The bot's own commands: what setMyCommands publishes, /help lists, and the router knows.
enum BotCommandCatalog {
    struct Entry: Sendable {
        let name: String
        let description: String
    }

    static let entries: [Entry] = [
        Entry(name: "new", description: "Start a fresh Claude session"),
        Entry(name: "status", description: "Project, session, mode, model and what is running"),
        Entry(name: "cancel", description: "Stop what Claude is doing"),
        Entry(name: "sessions", description: "Recent sessions of this project"),
        Entry(name: "resume", description: "Continue an earlier session"),
        Entry(name: "projects", description: "Pick a project folder"),
        Entry(name: "cd", description: "Change folder: /cd name"),
        Entry(name: "pwd", description: "Show the current folder"),
        Entry(name: "ls", description: "List the current folder"),
        Entry(name: "mode", description: "Permission mode: default, acceptEdits, plan, bypassPermissions"),
        Entry(name: "permissions", description: "Always-allow rules of this project, to revoke"),
        Entry(name: "model", description: "Claude model: /model name, or /model default"),
        Entry(name: "cost", description: "Spending today, this week and per session"),
        Entry(name: "get", description: "Send a file of the project: /get path"),
        Entry(name: "diff", description: "Uncommitted changes (/diff path for one file)"),
        Entry(name: "commit", description: "Commit everything: /commit message"),
        Entry(name: "push", description: "Push the branch (asks first)"),
        Entry(name: "pull", description: "Pull, fast-forward only; /pull merge merges"),
        Entry(name: "log", description: "Recent commits: /log 20"),
        Entry(name: "branch", description: "Branches; /branch name creates one"),
        Entry(name: "stash", description: "Stash changes; /stash pop restores them"),
        Entry(name: "undo", description: "Discard uncommitted changes (asks first)"),
        Entry(name: "clone", description: "Clone a repository: /clone URL [name]"),
        Entry(name: "init", description: "A new repository: /init name (alone: Claude's /init)"),
        Entry(name: "help", description: "What this bot can do"),
        Entry(name: "start", description: "Welcome and quick start"),
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

    static var helpText: String {
        var lines = [
            "<b>Claude Code from Telegram</b>",
            "Send a message and Claude works on it in the current project; you see its steps live and the answer when it is done. Messages sent while it works are queued.",
            "",
        ]
        for entry in entries { lines.append("/\(entry.name) — \(TelegramHTML.escape(entry.description))") }
        lines.append("")
        lines.append("Claude's own commands (/" + claudeCommands.sorted().joined(separator: ", /") + ", and /init alone) are passed to Claude.")
        return lines.joined(separator: "\n")
    }
}
