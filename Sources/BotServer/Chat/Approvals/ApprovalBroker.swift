import ClaudeRunner
import Logging

/// Claude's permission requests for one conversation, asked as Telegram buttons.
///
/// The CLI waits for each answer; this actor holds the waiting decisions and nothing
/// else, so the tap that answers one is handled at once (the conversation's lane is never
/// blocked by a run) and a run waiting for approval can always be cancelled. Each request
/// is a new message (an edit would not buzz the phone), answered on its own: parallel tool
/// calls can be decided in any order.
actor ApprovalBroker: PermissionDelegate {
    /// What a tap asks for.
    enum Choice: String, Sendable {
        case once, always, deny
        case planAcceptEdits = "plan-acceptEdits", planDefault = "plan-default"
    }

    struct Decider: Sendable {
        let id: Int64
        let name: String
        let isAdmin: Bool
    }

    private struct Pending {
        let request: PermissionRequest
        let continuation: CheckedContinuation<PermissionDecision, Never>
        /// The question as it is sent; an AskUserQuestion's current text is `questions.text`,
        /// which changes with taps.
        let text: String
        var messageID: Int64?
        var rowID: Int64?
        var timeout: Task<Void, Never>?
        var questions: QuestionPicker?
    }

    private let context: ChatContext
    private let key: ConversationKey
    private let project: @Sendable () async -> String
    private let requester: @Sendable () async -> Int64?
    private let onChange: @Sendable (_ waiting: Int) async -> Void
    private let onPlanApproved: @Sendable (PermissionMode) async -> Void
    private var pending: [String: Pending] = [:]
    /// A question answered (or withdrawn) while its message was on its way to Telegram: its
    /// final text waits here for the message id, or the id that came first waits for the
    /// text. Whichever of `ask` and `close` comes second edits the message.
    private var closedBeforeShown: [String: String] = [:]
    private var shownAfterClosing: [String: Int64] = [:]

    init(
        context: ChatContext, key: ConversationKey, project: @escaping @Sendable () async -> String,
        requester: @escaping @Sendable () async -> Int64?, onChange: @escaping @Sendable (_ waiting: Int) async -> Void,
        onPlanApproved: @escaping @Sendable (PermissionMode) async -> Void
    ) {
        self.context = context
        self.key = key
        self.project = project
        self.requester = requester
        self.onChange = onChange
        self.onPlanApproved = onPlanApproved
    }

    var waiting: Int { pending.count }

    // MARK: PermissionDelegate

    func decide(_ request: PermissionRequest) async -> PermissionDecision {
        let project = await project()
        if !request.requiresUserInteraction, let rule = await rule(covering: request, in: project) {
            await audit(request, decision: "allow-rule:\(rule.id)", by: nil)
            return .allow()
        }
        let question = ApprovalText.question(request, project: project)
        return await withCheckedContinuation { continuation in
            pending[request.id] = Pending(request: request, continuation: continuation, text: question)
            Task { await self.ask(request, question: question) }
        }
    }

    func withdraw(_ requestID: String) async {
        guard let entry = take(requestID) else { return }
        entry.continuation.resume(returning: .deny(message: "withdrawn"))
        await close(entry, note: "↩️ Claude no longer needs this.")
        await onChange(pending.count)
    }

    // MARK: Answers

    /// A tap on Allow, Always, Deny or a plan button; returns the callback answer. Only the
    /// user who started the run, or an admin, decides; a stale request changes nothing.
    func resolve(requestID: String, choice: Choice, by decider: Decider) async -> String {
        guard pending[requestID] != nil else { return "This request is no longer waiting." }
        if let refusal = await refusal(for: decider) { return refusal }
        guard let entry = take(requestID) else { return "This request is no longer waiting." }
        let request = entry.request
        let project = await project()
        let decision: PermissionDecision
        let note: String
        switch choice {
        case .once, .planDefault, .planAcceptEdits:
            // A plan's mode goes with the approval itself: a separate set_permission_mode could
            // reach the CLI after Claude's next edit had already asked in the old mode.
            decision = switch choice {
            case .planAcceptEdits: .allow(updatedPermissions: Self.setMode(.acceptEdits))
            case .planDefault: .allow(updatedPermissions: Self.setMode(.default))
            default: .allow()
            }
            note = request.toolName == "ExitPlanMode"
                ? "✅ Plan approved\(by(decider)); continuing in \(choice == .planAcceptEdits ? "acceptEdits" : "default") mode."
                : "✅ Allowed once\(by(decider))"
        case .always:
            decision = .allow()
            let rule = ApprovalText.ruleFor(request)
            if let rule {
                try? await context.permissions.add(tool: rule.tool, pattern: rule.pattern, project: project, by: decider.id)
            }
            note = "♾ Always allowed\(by(decider))" + (rule.map { ": " + ApprovalText.describe($0) } ?? "")
        case .deny:
            decision = request.toolName == "ExitPlanMode"
                ? .deny(message: "The user wants to keep planning; refine the plan and ask again.")
                : .deny(message: "The user denied this from Telegram. Do not try it another way; ask them what to do instead.")
            note = request.toolName == "ExitPlanMode" ? "✏️ Keep planning" + (isPrivate ? "" : " (\(decider.name))") : "❌ Denied\(by(decider))"
        }
        // Recorded before Claude goes on: its next request may be allowed by the rule just added.
        await audit(request, decision: choice.rawValue, by: decider.id)
        entry.continuation.resume(returning: decision)
        // The tap is answered now; the message and the progress follow.
        afterDecision(entry, note: TelegramHTML.escape(note)) {
            // The conversation keeps the mode for later processes (the CLI has switched already).
            if choice == .planAcceptEdits { await self.onPlanApproved(.acceptEdits) }
            if choice == .planDefault { await self.onPlanApproved(.default) }
        }
        return choice == .deny ? "Denied" : "Allowed"
    }

    /// The permission update that switches the session's mode (the shape of the CLI's own
    /// `setMode` suggestions).
    static func setMode(_ mode: PermissionMode) -> JSONValue {
        [["type": "setMode", "mode": .string(mode.rawValue), "destination": "session"]]
    }

    /// A tap on an AskUserQuestion option (`option` nil: Done; -1: Skip).
    func answerQuestion(requestID: String, question: Int, option: Int?, by decider: Decider) async -> String {
        guard var entry = pending[requestID], var picker = entry.questions else { return "This question is no longer waiting." }
        if let refusal = await refusal(for: decider) { return refusal }
        if option == -1 {
            // The copy above may predate the message id (`ask` sets it on the live entry).
            entry.messageID = take(requestID)?.messageID ?? entry.messageID
            await audit(entry.request, decision: "skipped", by: decider.id)
            entry.continuation.resume(returning: .allow(updatedInput: entry.request.input))
            afterDecision(entry, note: "⏭ Skipped" + TelegramHTML.escape(by(decider)))
            return "Skipped"
        }
        picker.pick(question: question, option: option)
        entry.questions = picker
        pending[requestID] = entry
        guard picker.isComplete else {
            await showQuestions(requestID)
            return "Noted"
        }
        entry.messageID = take(requestID)?.messageID ?? entry.messageID
        await audit(entry.request, decision: "answered", by: decider.id)
        entry.continuation.resume(returning: .allow(updatedInput: picker.answeredInput(entry.request.input)))
        afterDecision(entry, note: "✅ " + TelegramHTML.escape(picker.summary))
        return "Answered"
    }

    /// A reply to an approval message: a denial, with the reply as the reason Claude is given.
    func denyByReply(to messageID: Int64, text: String, by decider: Decider) async -> Bool {
        guard let id = pending.first(where: { $0.value.messageID == messageID })?.key else { return false }
        if await refusal(for: decider) != nil { return false }
        guard let entry = take(id) else { return false }
        entry.continuation.resume(returning: .deny(message: "The user denied this and said: \(text)"))
        await audit(entry.request, decision: "deny-reply", by: decider.id)
        await close(entry, note: "❌ Denied\(TelegramHTML.escape(by(decider))): “\(TelegramHTML.escape(ToolActivity.shorten(text, to: 200)))”")
        await onChange(pending.count)
        return true
    }

    /// The run is over or cancelled: every open question is denied.
    func denyAll(reason: String) async {
        let ids = Array(pending.keys)
        for id in ids {
            guard let entry = take(id) else { continue }
            entry.continuation.resume(returning: .deny(message: reason, interrupt: true))
            await close(entry, note: "⏹ " + TelegramHTML.escape(reason))
        }
        if !ids.isEmpty { await onChange(0) }
    }

    // MARK: Asking

    private func ask(_ request: PermissionRequest, question: String) async {
        await onChange(pending.count)
        let text: String
        var rows: [[InlineKeyboardButton]] = []
        if request.toolName == "AskUserQuestion" {
            let picker = QuestionPicker(input: request.input)
            pending[request.id]?.questions = picker
            text = picker.text
            rows = await questionRows(request.id, picker)
        } else {
            text = question
            rows = await decisionRows(request)
        }
        let rowID = try? await context.permissions.recordAsked(conversation: key, tool: request.toolName, summary: text)
        pending[request.id]?.rowID = rowID
        do {
            let message = try await sendQuestion(SendMessage(
                chatID: key.chatID, messageThreadID: key.threadID, text: text, parseMode: .html,
                replyMarkup: InlineKeyboardMarkup(rows)), for: request.id)
            // Recorded before the next await: a tap can come as soon as Telegram shows the
            // message, and its answer edits the message by this id.
            if pending[request.id] != nil {
                pending[request.id]?.messageID = message.messageID
                let limit = context.settings.approvalTimeout
                pending[request.id]?.timeout = Task { [weak self] in
                    try? await Task.sleep(for: limit)
                    guard !Task.isCancelled else { return }
                    await self?.timedOut(request.id)
                }
            } else if let final = closedBeforeShown.removeValue(forKey: request.id) {
                // Answered or withdrawn while the question was on its way: say so, without buttons.
                _ = try? await context.outbox.edit(EditMessageText(
                    chatID: key.chatID, messageID: message.messageID, text: final, parseMode: .html, replyMarkup: nil))
            } else {
                shownAfterClosing[request.id] = message.messageID
                try? await context.outbox.editReplyMarkup(
                    EditMessageReplyMarkup(chatID: key.chatID, messageID: message.messageID, replyMarkup: nil))
            }
            if let rowID { try? await context.permissions.setMessage(approval: rowID, messageID: message.messageID) }
        } catch {
            closedBeforeShown.removeValue(forKey: request.id)
            context.logger.error("could not ask for approval; denied", metadata: ["error": "\(error)"])
            if let entry = take(request.id) {
                entry.continuation.resume(returning: .deny(message: "The approval request could not be shown to the user."))
            }
        }
    }

    /// The question goes first in its chat, and is tried again for as long as Claude waits
    /// for it (Telegram down for a while must not turn into a silent denial); it is given up
    /// when Telegram refuses it for good or the request is no longer waiting.
    private func sendQuestion(_ request: SendMessage, for requestID: String) async throws(TelegramError) -> Message {
        var pause = Duration.seconds(1)
        while true {
            do {
                return try await context.outbox.send(request, priority: .interactive)
            } catch where error.isRetryable && pending[requestID] != nil {
                context.logger.warning("approval question not delivered yet; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(30))
                guard pending[requestID] != nil else { throw error }
            }
        }
    }

    private func decisionRows(_ request: PermissionRequest) async -> [[InlineKeyboardButton]] {
        func button(_ label: String, _ choice: Choice) async -> InlineKeyboardButton? {
            guard let data = try? await context.callbacks.register("approve:\(request.id):\(choice.rawValue)", conversation: key) else {
                return nil
            }
            return .callback(label, data: data)
        }
        if request.toolName == "ExitPlanMode" {
            let first = [await button("✅ Approve → acceptEdits", .planAcceptEdits), await button("✅ Approve → default", .planDefault)]
            return [first.compactMap { $0 }, [await button("✏️ Keep planning", .deny)].compactMap { $0 }]
        }
        var first = [await button("✅ Allow once", .once)]
        if let rule = ApprovalText.ruleFor(request) {
            first.append(await button("♾ Always: " + ToolActivity.shorten(ApprovalText.describe(rule), to: 40), .always))
        }
        return [first.compactMap { $0 }, [await button("❌ Deny", .deny)].compactMap { $0 }]
    }

    private func questionRows(_ requestID: String, _ picker: QuestionPicker) async -> [[InlineKeyboardButton]] {
        var rows: [[InlineKeyboardButton]] = []
        for (index, question) in picker.questions.enumerated() {
            var row: [InlineKeyboardButton] = []
            for (optionIndex, option) in question.options.enumerated() {
                let selected = picker.selections[index].contains(optionIndex)
                let label = (selected ? "✓ " : "") + ToolActivity.shorten(option.label, to: 30)
                if let data = try? await context.callbacks.register("ask:\(requestID):\(index):\(optionIndex)", conversation: key) {
                    row.append(.callback(label, data: data))
                }
            }
            rows.append(contentsOf: row.chunked(3))
            if question.multiSelect, let done = try? await context.callbacks.register("ask:\(requestID):\(index):done", conversation: key) {
                rows.append([.callback("Done" + (picker.questions.count > 1 ? " (\(index + 1))" : ""), data: done)])
            }
        }
        if let skip = try? await context.callbacks.register("ask:\(requestID):0:skip", conversation: key) {
            rows.append([.callback("⏭ Skip", data: skip)])
        }
        return rows
    }

    private func showQuestions(_ requestID: String) async {
        guard let entry = pending[requestID], let picker = entry.questions, let messageID = entry.messageID else { return }
        let rows = await questionRows(requestID, picker)
        _ = try? await context.outbox.edit(EditMessageText(
            chatID: key.chatID, messageID: messageID, text: picker.text, parseMode: .html, replyMarkup: InlineKeyboardMarkup(rows)))
    }

    private func timedOut(_ requestID: String) async {
        guard let entry = take(requestID) else { return }
        let limit = ProgressRenderer.format(elapsed: context.settings.approvalTimeout)
        entry.continuation.resume(returning: .deny(message: "Nobody answered the approval request in \(limit); it was denied."))
        await audit(entry.request, decision: "timeout", by: nil)
        await close(entry, note: "⌛ No answer in \(limit): denied.")
        await onChange(pending.count)
    }

    // MARK: Helpers

    /// What follows a decision, off the tap's path: the callback is answered while the
    /// question's message is edited and the progress refreshed.
    private func afterDecision(_ entry: Pending, note: String, then extra: @escaping @Sendable () async -> Void = {}) {
        Task {
            await self.onChange(self.pending.count)
            await self.close(entry, note: note)
            await extra()
        }
    }

    private func take(_ id: String) -> Pending? {
        guard let entry = pending.removeValue(forKey: id) else { return nil }
        entry.timeout?.cancel()
        if let row = entry.rowID { Task { try? await context.permissions.markDecided(approval: row) } }
        return entry
    }

    /// Who decided, as the note names them: in a group the others want to know; in a private
    /// chat it can only be its one user, so it says nothing.
    private var isPrivate: Bool { key.chatID > 0 }

    private func by(_ decider: Decider) -> String { isPrivate ? "" : " by " + decider.name }

    private func refusal(for decider: Decider) async -> String? {
        if decider.isAdmin { return nil }
        guard let requester = await requester(), requester != decider.id else { return nil }
        return "Only the person who asked Claude (or an admin) can decide this."
    }

    private func rule(covering request: PermissionRequest, in project: String) async -> PermissionRule? {
        let rules = (try? await context.permissions.rules(for: project)) ?? []
        return rules.first { $0.covers(tool: request.toolName, command: request.input["command"]?.string, project: project) }
    }

    private func audit(_ request: PermissionRequest, decision: String, by userID: Int64?) async {
        let digest = Digest.sha256Hex(request.input.description)
        try? await context.audit.record(
            event: "approval", userID: userID, chatID: key.chatID,
            detail: "tool=\(request.toolName) input_sha256=\(digest.prefix(16)) decision=\(decision)", durability: .crashSafe)
    }

    private func close(_ entry: Pending, note: String) async {
        let final = (entry.questions?.text ?? ApprovalText.decided(entry.text)) + "\n\n" + note
        guard let messageID = entry.messageID ?? shownAfterClosing.removeValue(forKey: entry.request.id) else {
            // Still on its way (`ask` awaits Telegram's answer): `ask` shows this when it arrives.
            closedBeforeShown[entry.request.id] = final
            return
        }
        _ = try? await context.outbox.edit(
            EditMessageText(chatID: key.chatID, messageID: messageID, text: final, parseMode: .html, replyMarkup: nil),
            priority: .interactive)
    }
}
