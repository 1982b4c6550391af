import ClaudeRunner
import Logging

/// Claude's permission requests for one conversation, asked as Telegram buttons.
///
/// The CLI waits for each answer; this actor holds the waiting decisions and nothing
/// else, so that the tap that answers one is handled at once (the conversation's lane is
/// never blocked by a run) and a run waiting for approval can always be cancelled.
actor ApprovalBroker: PermissionDelegate {
    private struct Pending {
        let request: PermissionRequest
        let continuation: CheckedContinuation<PermissionDecision, Never>
        var messageID: Int64?
    }

    private let context: ChatContext
    private let key: ConversationKey
    private let project: @Sendable () async -> String
    private let onChange: @Sendable (_ waiting: Int) async -> Void
    private var pending: [String: Pending] = [:]

    init(
        context: ChatContext, key: ConversationKey, project: @escaping @Sendable () async -> String,
        onChange: @escaping @Sendable (_ waiting: Int) async -> Void
    ) {
        self.context = context
        self.key = key
        self.project = project
        self.onChange = onChange
    }

    var waiting: Int { pending.count }

    func decide(_ request: PermissionRequest) async -> PermissionDecision {
        await withCheckedContinuation { continuation in
            pending[request.id] = Pending(request: request, continuation: continuation)
            Task { await self.ask(request) }
        }
    }

    func withdraw(_ requestID: String) async {
        guard let entry = pending.removeValue(forKey: requestID) else { return }
        entry.continuation.resume(returning: .deny(message: "withdrawn"))
        await close(entry, note: "↩️ Claude no longer needs this.")
        await onChange(pending.count)
    }

    /// A tap on Allow or Deny. False when the request is no longer waiting.
    func resolve(requestID: String, allow: Bool, userName: String) async -> Bool {
        guard let entry = pending.removeValue(forKey: requestID) else { return false }
        let decision: PermissionDecision
        if allow {
            decision = .allow()
        } else if entry.request.toolName == "ExitPlanMode" {
            decision = .deny(message: "The user wants to keep planning; refine the plan and ask again.")
        } else {
            decision = .deny(message: "The user denied this from Telegram. Do not try it another way; ask them what to do instead.")
        }
        entry.continuation.resume(returning: decision)
        await close(entry, note: allow ? "✅ Allowed by \(TelegramHTML.escape(userName))" : "❌ Denied by \(TelegramHTML.escape(userName))")
        await onChange(pending.count)
        return true
    }

    /// The run is over or cancelled: every open question is denied.
    func denyAll(reason: String) async {
        let entries = pending.values
        pending.removeAll()
        for entry in entries {
            entry.continuation.resume(returning: .deny(message: reason, interrupt: true))
            await close(entry, note: "⏹ " + TelegramHTML.escape(reason))
        }
        if !entries.isEmpty { await onChange(0) }
    }

    private func ask(_ request: PermissionRequest) async {
        if request.toolName == "AskUserQuestion" {
            await askAsText(request)
            return
        }
        await onChange(pending.count)
        let project = await project()
        let text = ApprovalText.question(request, project: project)
        do {
            let allowLabel = request.toolName == "ExitPlanMode" ? "✅ Approve plan" : "✅ Allow"
            let denyLabel = request.toolName == "ExitPlanMode" ? "✏️ Keep planning" : "❌ Deny"
            let allow = try await context.callbacks.register("approve:\(request.id):allow", conversation: key)
            let deny = try await context.callbacks.register("approve:\(request.id):deny", conversation: key)
            let markup = InlineKeyboardMarkup([[.callback(allowLabel, data: allow), .callback(denyLabel, data: deny)]])
            let message = try await context.outbox.send(
                SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: text, parseMode: .html, replyMarkup: markup))
            if pending[request.id] != nil {
                pending[request.id]?.messageID = message.messageID
            } else {
                // Answered or withdrawn while the question was on its way: take the buttons away.
                try? await context.outbox.editReplyMarkup(
                    EditMessageReplyMarkup(chatID: key.chatID, messageID: message.messageID, replyMarkup: nil))
            }
        } catch {
            context.logger.error("could not ask for approval; denied", metadata: ["error": "\(error)"])
            if let entry = pending.removeValue(forKey: request.id) {
                entry.continuation.resume(returning: .deny(message: "The approval request could not be shown to the user."))
            }
        }
    }

    /// Questions for the user are shown as a message; the user answers in their next one.
    private func askAsText(_ request: PermissionRequest) async {
        guard let entry = pending.removeValue(forKey: request.id) else { return }
        let text = ApprovalText.questions(request)
        _ = try? await context.outbox.send(
            SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: text, parseMode: .html))
        entry.continuation.resume(returning: .deny(
            message: "The user sees these questions in Telegram and will answer in their next message. End your turn now.",
            interrupt: false))
    }

    private func close(_ entry: Pending, note: String) async {
        guard let messageID = entry.messageID else { return }
        let project = await project()
        let text = ApprovalText.question(entry.request, project: project) + "\n\n" + note
        _ = try? await context.outbox.edit(
            EditMessageText(chatID: key.chatID, messageID: messageID, text: text, parseMode: .html, replyMarkup: nil))
    }
}

/// How a permission request reads on a phone.
enum ApprovalText {
    static func question(_ request: PermissionRequest, project: String) -> String {
        if request.toolName == "ExitPlanMode" {
            let plan = request.plan ?? request.input["plan"]?.string ?? ""
            let rendered = TelegramHTML.render(markdown: plan)
            let visible = StyledText(html: rendered)
            let chunk = MessageSplitter(maxLength: 3500).ranges(of: visible, markup: .html, maxChunks: 1).first.map(visible.html) ?? ""
            return "📋 <b>Claude has a plan</b>\n\n" + chunk
        }
        var lines = ["🔐 <b>Claude wants to: \(TelegramHTML.escape(ToolActivity.describe(tool: request.toolName, input: request.input, project: project)))</b>"]
        switch request.toolName {
        case "Bash":
            lines.append("<pre><code class=\"language-bash\">\(TelegramHTML.escape(ProgressRenderer.tail(request.input["command"]?.string ?? "", 1500)))</code></pre>")
        case "Write":
            let content = request.input["content"]?.string ?? ""
            lines.append("\(ToolActivity.lineCount(content)) lines:")
            lines.append("<pre>\(TelegramHTML.escape(String(content.prefix(1200))))\(content.count > 1200 ? "\n…" : "")</pre>")
        case "Edit":
            let old = request.input["old_string"]?.string ?? "", new = request.input["new_string"]?.string ?? ""
            lines.append("<pre><code class=\"language-diff\">\(TelegramHTML.escape(diffPreview(old: old, new: new)))</code></pre>")
        default:
            let input = request.input.description
            lines.append("<pre>\(TelegramHTML.escape(input.count > 1200 ? String(input.prefix(1200)) + "…" : input))</pre>")
        }
        if let description = request.description, !description.isEmpty {
            lines.append("<i>\(TelegramHTML.escape(ToolActivity.shorten(description, to: 300)))</i>")
        }
        return lines.joined(separator: "\n")
    }

    static func questions(_ request: PermissionRequest) -> String {
        var lines = ["❓ <b>Claude asks</b>"]
        for question in request.input["questions"]?.array ?? [] {
            lines.append("")
            lines.append("<b>" + TelegramHTML.escape(question["question"]?.string ?? "") + "</b>")
            for option in question["options"]?.array ?? [] {
                let label = option["label"]?.string ?? ""
                let description = option["description"]?.string.map { " — " + $0 } ?? ""
                lines.append("• " + TelegramHTML.escape(label + description))
            }
        }
        lines.append("")
        lines.append("Answer in your next message.")
        return lines.joined(separator: "\n")
    }

    static func diffPreview(old: String, new: String, limit: Int = 1400) -> String {
        let removed = old.split(separator: "\n", omittingEmptySubsequences: false).map { "- " + $0 }
        let added = new.split(separator: "\n", omittingEmptySubsequences: false).map { "+ " + $0 }
        let text = (removed + added).joined(separator: "\n")
        return text.count > limit ? String(text.prefix(limit)) + "\n…" : text
    }
}
