import ClaudeRunner
import Glibc

/// The bot's commands, answered at once whether or not a run is in progress.
extension Conversation {
    struct Sender: Sendable {
        let id: Int64
        let name: String
        let isAdmin: Bool
    }

    func command(_ command: ParsedCommand, messageID: Int64, updateID: Int64?, sender: Sender) async throws {
        try await load()
        switch command.name {
        case "start": await reply(welcome())
        case "help": await reply(BotCommandCatalog.helpText)
        case "new": await newSession()
        case "status": await reply(await statusText(for: sender))
        case "cancel": await cancelCommand()
        case "sessions", "resume":
            if command.name == "resume", !command.arguments.isEmpty {
                await resumeSession(prefix: command.arguments)
            } else {
                await listSessions()
            }
        case "projects": await listProjects()
        case "cd": await changeDirectory(command.arguments)
        case "pwd": await reply("📁 <code>\(TelegramHTML.escape(displayProject))</code>")
        case "ls": await listDirectory(command.arguments)
        case "mode": await setMode(command.arguments, sender: sender)
        case "model": await setModel(command.arguments)
        case "cost": await reply(await costText())
        case "permissions": await listPermissions()
        case "get": await sendFile(command.arguments)
        default:
            if await gitCommand(command, sender: sender) { return }
            if BotCommandCatalog.isClaudeCommand(command) {
                // Claude Code's own command: the CLI reads it from the prompt.
                let text = "/" + command.name + (command.arguments.isEmpty ? "" : " " + command.arguments)
                try await prompt(text, messageID: messageID, updateID: updateID, isForward: false, from: sender.id)
            } else {
                await reply(
                    "I don't know /\(TelegramHTML.escape(command.name)). /help lists my commands; to send it to Claude as text, write it without the slash.")
            }
        }
    }

    var displayProject: String {
        let relative = WorkspacePath.display(settings.project, root: context.settings.workspaceRoot)
        return relative == "." ? "workspace root" : relative
    }

    private func welcome() -> String {
        """
        👋 <b>Claude Code, from your phone.</b>
        Send what you want done; Claude works in \(TelegramHTML.escape(displayProject == "workspace root" ? "the workspace root" : "“\(displayProject)”")) and you watch it live.
        /projects picks a project, /new starts a fresh session, /help lists everything.
        """
    }

    private func newSession() async {
        if !(await isIdleOnceConcluded()) {
            await reply("Claude is still working. /cancel first, then /new.")
            return
        }
        await startFreshSession()
        await reply("🆕 New session in <code>\(TelegramHTML.escape(displayProject))</code>. Your next message starts it.")
    }

    private func cancelCommand() async {
        let dropped = (try? await context.conversations.takeQueued(of: key)) ?? nil
        if let notice = dropped?.noticeID {
            _ = try? await context.outbox.edit(EditMessageText(chatID: key.chatID, messageID: notice, text: "🗑 Queued message discarded by /cancel."))
        }
        let calledOff = await callOffContinuation().map { " The continuation at \(Self.clock(millis: $0)) UTC is called off." } ?? ""
        if await cancelRun() {
            // The progress message shows "Stopping" and ends as the Cancelled card; a reply
            // only for what else /cancel did.
            let extra = (dropped == nil ? "" : "🗑 Your queued message was discarded too.") + calledOff
            if !extra.isEmpty { await reply(extra.trimmingWhitespace()) }
        } else if dropped != nil {
            await reply("🗑 Your queued message was discarded." + calledOff)
        } else {
            await reply(calledOff.isEmpty ? "Nothing is running." : "⏰" + calledOff)
        }
    }

    /// The run-slot line is for admins: it tells of other people's runs, and only an admin
    /// can change MAX_CONCURRENT_RUNS anyway.
    func statusText(for sender: Sender) async -> String {
        var lines = ["📁 <b>Project</b> <code>\(TelegramHTML.escape(displayProject))</code>"]
        let summary = try? await context.runs.session(settings.sessionID)
        let title = summary.map { " — " + TelegramHTML.escape($0.title) } ?? (settings.sessionStarted ? "" : " (new)")
        lines.append("💬 <b>Session</b> <code>\(settings.sessionID.prefix(8))</code>\(title)")
        if settings.sessionStarted {
            lines.append("🖥 In a terminal: " + ProgressRenderer.terminalCommand(project: settings.project, sessionID: settings.sessionID))
        }
        // Named as the end-of-run card names it: what the CLI reported, else what was asked for.
        let model = ProgressRenderer.modelName(active?.progress.model ?? reportedModel ?? settings.model) ?? "default"
        lines.append("🔐 <b>Mode</b> \(settings.permissionMode.rawValue) · 🧠 <b>Model</b> \(TelegramHTML.escape(model))")
        if settings.permissionMode == .bypassPermissions {
            lines.insert("⚠️ <b>bypassPermissions</b>: Claude runs every tool without asking.", at: 0)
        }
        // A run that only delivers its answer is over for the user, who has the answer on screen.
        if let run = active, !run.concluding {
            let elapsed = ProgressRenderer.format(elapsed: .now - run.startedAt)
            let waiting = await broker?.waiting ?? 0
            let state = run.waitingForSlot ? "waiting for a free slot" : waiting > 0 ? "waiting for your approval" : "working"
            lines.append("⏳ <b>Running</b> for \(elapsed): \(state)")
        } else {
            lines.append("💤 <b>Idle</b>")
        }
        if let queued = try? await context.conversations.queued(of: key) {
            lines.append("📥 <b>Queued</b> one message (\(queued.text.count) characters)")
        }
        if let dueAt = scheduledContinuation?.dueAt {
            lines.append("⏰ <b>Continues</b> by itself at \(Self.clock(millis: dueAt)) UTC (/cancel calls it off)")
        }
        if let gitLines = await gitStatusLines() { lines.append(contentsOf: gitLines) }
        if sender.isAdmin {
            let running = await context.slots.running, waitingRuns = await context.slots.waiting
            lines.append("⚙️ \(running) of \(context.settings.maxConcurrentRuns) Claude runs busy" + (waitingRuns > 0 ? ", \(waitingRuns) waiting" : ""))
        }
        let today = (try? await context.runs.cost(of: key, since: UnixTime.startOfDayMillis())) ?? (cost: 0, runs: 0)
        lines.append("💰 <b>Today</b> \(ProgressRenderer.formatCost(today.cost)) in \(today.runs) run\(today.runs == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }

    private func costText() async -> String {
        let today = (try? await context.runs.cost(of: key, since: UnixTime.startOfDayMillis())) ?? (cost: 0, runs: 0)
        let week = (try? await context.runs.cost(of: key, since: UnixTime.nowMillis() - 7 * 86_400_000)) ?? (cost: 0, runs: 0)
        var lines = [
            "💰 <b>Today</b> \(ProgressRenderer.formatCost(today.cost)) (\(today.runs) runs)",
            "📅 <b>Last 7 days</b> \(ProgressRenderer.formatCost(week.cost)) (\(week.runs) runs)",
        ]
        let sessions = (try? await context.runs.sessions(of: key, project: settings.project, limit: 5)) ?? []
        if !sessions.isEmpty {
            lines.append("")
            lines.append("<b>Sessions in this project</b>")
            for session in sessions {
                lines.append("• \(TelegramHTML.escape(session.title)): \(ProgressRenderer.formatCost(session.costUSD)), \(session.turns) turns")
            }
        }
        return lines.joined(separator: "\n")
    }

    private func listPermissions() async {
        let rules = (try? await context.permissions.rules(for: settings.project)) ?? []
        guard !rules.isEmpty else {
            await reply("🔐 No always-allow rules in <code>\(TelegramHTML.escape(displayProject))</code>: Claude asks before tools that change things.")
            return
        }
        var rows: [[InlineKeyboardButton]] = []
        for rule in rules {
            if let button = await button("🗑 " + ToolActivity.shorten(ApprovalText.describe(rule), to: 40), "revoke:\(rule.id)") { rows.append([button]) }
        }
        let list = rules.map { "• " + TelegramHTML.escape(ApprovalText.describe($0)) }.joined(separator: "\n")
        await reply("🔐 <b>Always allowed</b> in <code>\(TelegramHTML.escape(displayProject))</code>:\n" + list + "\n\nTap one to revoke it.", markup: InlineKeyboardMarkup(rows))
    }

    private func listSessions() async {
        let sessions = (try? await context.runs.sessions(of: key, project: settings.project, limit: 8)) ?? []
        guard !sessions.isEmpty else {
            await reply("No sessions in <code>\(TelegramHTML.escape(displayProject))</code> yet. Send a message to start one.")
            return
        }
        var rows: [[InlineKeyboardButton]] = []
        let now = UnixTime.nowMillis()
        for session in sessions {
            let current = session.id == settings.sessionID ? "● " : ""
            let label = current + ToolActivity.shorten(session.title, to: 32) + " · " + Self.age(now - session.lastUsedAt)
                + " · " + ProgressRenderer.formatCost(session.costUSD)
            if let button = await button(label, "session:\(session.id)") { rows.append([button]) }
        }
        await reply("💬 <b>Recent sessions</b> in <code>\(TelegramHTML.escape(displayProject))</code>, newest first:", markup: InlineKeyboardMarkup(rows))
    }

    static func age(_ millis: Int64) -> String {
        let minutes = max(0, millis / 60_000)
        if minutes < 1 { return "now" }
        if minutes < 60 { return "\(minutes) min ago" }
        if minutes < 1440 { return "\(minutes / 60) h ago" }
        return "\(minutes / 1440) d ago"
    }

    /// Whether the conversation is now in that session.
    @discardableResult
    func switchToSession(_ id: String) async -> Bool {
        guard await isIdleOnceConcluded() else {
            await reply("Claude is still working. /cancel first, then pick the session.")
            return false
        }
        guard let summary = try? await context.runs.session(id), summary.id == id else {
            await reply("That session is not known here any more.")
            return false
        }
        if let session { await session.stop() }
        session = nil
        settings.sessionID = summary.id
        settings.sessionStarted = true
        if WorkspacePath.isDirectory(summary.project) { settings.project = summary.project }
        await saveSettings()
        await reply("💬 Resumed <b>\(TelegramHTML.escape(summary.title))</b> (\(summary.turns) turns, \(ProgressRenderer.formatCost(summary.costUSD))). Your next message continues it.")
        return true
    }

    private func resumeSession(prefix: String) async {
        let sessions = (try? await context.runs.sessions(of: key, project: settings.project, limit: 50)) ?? []
        let matches = sessions.filter { $0.id.hasPrefix(prefix.lowercased()) }
        guard matches.count == 1 else {
            await reply(matches.isEmpty ? "No session of this project starts with <code>\(TelegramHTML.escape(prefix))</code>." : "More than one session matches; give more of the id.")
            return
        }
        await switchToSession(matches[0].id)
    }

    private func listProjects() async {
        let root = context.settings.workspaceRoot
        let folders = WorkspacePath.entries(of: root).filter(\.isDirectory).prefix(40)
        var rows: [[InlineKeyboardButton]] = []
        var row: [InlineKeyboardButton] = []
        for folder in folders {
            let marker = settings.project == root + "/" + folder.name ? "● " : ""
            guard let button = await button(marker + ToolActivity.shorten(folder.name, to: 28), "project:\(folder.name)") else { continue }
            row.append(button)
            if row.count == 2 { rows.append(row); row = [] }
        }
        if !row.isEmpty { rows.append(row) }
        if let rootButton = await button("⌂ Workspace root", "project:.") { rows.append([rootButton]) }
        let text = folders.isEmpty
            ? "No project folders under the workspace yet. Create one on the server (or clone a repository) under <code>\(TelegramHTML.escape(root))</code>."
            : "📁 <b>Projects</b> — now in <code>\(TelegramHTML.escape(displayProject))</code>:"
        await reply(text, markup: InlineKeyboardMarkup(rows))
    }

    /// /cd and the project picker. A new folder means a new session (sessions belong to a
    /// folder). Whether the conversation is now in that folder.
    @discardableResult
    func changeDirectory(_ argument: String, fromRoot: Bool = false) async -> Bool {
        let root = context.settings.workspaceRoot
        let base = fromRoot ? root : settings.project
        let target: String
        if argument.isEmpty {
            target = root
        } else {
            switch WorkspacePath.resolve(argument, in: root, from: base) {
            case .success(let path): target = path
            case .failure(let error):
                await reply("🚫 " + TelegramHTML.escape(error.description.sentenceCased) + ".")
                return false
            }
        }
        guard await isIdleOnceConcluded() else {
            await reply("Claude is still working. /cancel first, then change folder.")
            return false
        }
        if target != settings.project {
            if let session { await session.stop() }
            session = nil
            settings.project = target
            settings.sessionID = Self.newSessionID()
            settings.sessionStarted = false
            await saveSettings()
        }
        await reply("📁 Now in <code>\(TelegramHTML.escape(displayProject))</code>. A new session starts with your next message.")
        return true
    }

    private func listDirectory(_ argument: String) async {
        let root = context.settings.workspaceRoot
        let directory: String
        switch WorkspacePath.resolve(argument.isEmpty ? "." : argument, in: root, from: settings.project) {
        case .success(let path): directory = path
        case .failure(let error):
            await reply("🚫 " + TelegramHTML.escape(error.description) + ".")
            return
        }
        let entries = WorkspacePath.entries(of: directory)
        let shown = entries.prefix(60).map { $0.isDirectory ? $0.name + "/" : $0.name }
        var text = "📁 <code>\(TelegramHTML.escape(WorkspacePath.display(directory, root: root)))</code>\n"
        text += entries.isEmpty ? "<i>(empty)</i>" : "<pre>" + TelegramHTML.escape(shown.joined(separator: "\n")) + "</pre>"
        if entries.count > 60 { text += "\n… and \(entries.count - 60) more" }
        await reply(text)
    }

    private func setMode(_ argument: String, sender: Sender) async {
        let choices: [PermissionMode] = [.default, .acceptEdits, .plan, .bypassPermissions]
        guard !argument.isEmpty else {
            var row: [InlineKeyboardButton] = []
            for mode in choices where mode != .bypassPermissions || sender.isAdmin {
                if let button = await button((mode == settings.permissionMode ? "● " : "") + mode.rawValue, "mode:\(mode.rawValue)") {
                    row.append(button)
                }
            }
            await reply("🔐 Permission mode: <b>\(settings.permissionMode.rawValue)</b>", markup: InlineKeyboardMarkup(row.chunked(2)))
            return
        }
        guard let mode = choices.first(where: { $0.rawValue.lowercased() == argument.lowercased() }) else {
            await reply("Modes: " + choices.map(\.rawValue).joined(separator: ", ") + ".")
            return
        }
        await applyMode(mode, sender: sender)
    }

    func applyMode(_ mode: PermissionMode, sender: Sender) async {
        if mode == .bypassPermissions && !sender.isAdmin {
            await reply("🚫 bypassPermissions lets Claude run anything without asking; only admins (ADMIN_USER_IDS) may turn it on.")
            try? await context.audit.record(event: "mode_refused", userID: sender.id, chatID: key.chatID, detail: mode.rawValue)
            return
        }
        if mode == .bypassPermissions && geteuid() == 0 {
            // The CLI exits at start with this mode as root; saying so now beats a failed run later.
            await reply("🚫 Claude Code refuses bypassPermissions when it runs as root. Run the bot as a normal user to use it.")
            return
        }
        settings.permissionMode = mode
        await saveSettings()
        try? await session?.setPermissionMode(mode)
        try? await context.audit.record(event: "mode", userID: sender.id, chatID: key.chatID, detail: mode.rawValue)
        await reply("🔐 Mode is now <b>\(mode.rawValue)</b>" + (active == nil ? "." : "; it applies from Claude's next turn."))
    }

    private func setModel(_ argument: String) async {
        guard !argument.isEmpty else {
            await reply("🧠 Model: <b>\(TelegramHTML.escape(settings.model ?? "default"))</b>. Change it with /model name (e.g. sonnet, opus, haiku) or /model default.")
            return
        }
        let name = argument.lowercased() == "default" ? nil : argument
        if let name, !(1...64).contains(name.count) || !name.allSatisfy({ $0.isLetter || $0.isNumber || "._-[]".contains($0) }) {
            await reply("That is not a model name (letters, digits, dots, dashes).")
            return
        }
        settings.model = name
        reportedModel = nil  // the CLI's name for the old choice; the next run reports the new one
        await saveSettings()
        try? await session?.setModel(name)
        await reply("🧠 Model is now <b>\(TelegramHTML.escape(name ?? "default"))</b>.")
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
