import ClaudeRunner

/// Button taps. The callback query itself is answered by the service before this runs.
extension Conversation {
    /// The button a tap came from: its callback data, and its message's keyboard as the
    /// user saw it (Telegram sends it with the tap).
    struct Tap: Sendable {
        let data: String
        let keyboard: InlineKeyboardMarkup?
    }

    func callback(_ payload: String, sender: Sender, messageID: Int64?, tap: Tap? = nil) async {
        do { try await load() } catch {
            logger.error("could not load the conversation", metadata: ["error": "\(error)"])
            return
        }
        let parts = payload.split(separator: ":", maxSplits: 1).map(String.init)
        let action = parts.first ?? "", argument = parts.count > 1 ? parts[1] : ""
        switch action {
        case "git":
            let pieces = argument.split(separator: ":", maxSplits: 1).map(String.init)
            _ = await gitCallback(pieces.first ?? "", pieces.count > 1 ? pieces[1] : "", sender: sender, messageID: messageID, tap: tap)
        case "get":
            await sendFile(argument)
        case "revoke":
            guard let id = Int64(argument) else { return }
            let removed = (try? await context.permissions.revoke(id, project: settings.project)) ?? false
            try? await context.audit.record(event: "rule_revoked", userID: sender.id, chatID: key.chatID, detail: argument)
            await reply(removed ? "🗑 Rule removed: Claude will ask again." : "That rule was already gone.")
        case "cancel":
            await cancelRun()
        case "sendnow":
            // Interrupt the run; the queued prompt starts as soon as it has stopped.
            if !(await cancelRun()) { await startQueued() }
        case "continue":
            try? await prompt("Continue.", messageID: 0, updateID: nil, isForward: false, from: sender.id)
        case "new":
            await removeButtons(messageID)
            if !(await isIdleOnceConcluded()) { await reply("Claude is still working. /cancel first, then start a new session.") } else {
                await startFreshSession()
                await reply("🆕 New session. Your next message starts it.")
            }
        // A picker has done its job once something is picked: its buttons go.
        case "session":
            if await switchToSession(argument) { await removeButtons(messageID) }
        case "project":
            if await changeDirectory(argument == "." ? "" : argument, fromRoot: true) { await removeButtons(messageID) }
        case "mode":
            if let mode = PermissionMode(rawValue: argument) { await applyMode(mode, sender: sender) }
        case "retry", "resume":
            guard let runID = Int64(argument), let run = try? await context.runs.run(runID) else {
                await reply("That run is not known any more.")
                return
            }
            await removeButtons(messageID)
            await resume(run, by: sender.id, note: action == "resume" ? "Resuming the interrupted run." : nil)
        case "at":
            guard let epoch = Int64(argument) else { return }
            await removeButtons(messageID)
            await scheduleContinuation(resetAt: epoch, by: sender.id)
        default:
            logger.warning("unknown button payload", metadata: ["action": "\(action)"])
        }
    }

    /// An approval or question tap: decided at once, and the answer is the callback's text
    /// (the client shows it), so it must not wait on slow work.
    func decide(_ payload: String, sender: Sender, messageID: Int64?) async -> String {
        let parts = payload.split(separator: ":").map(String.init)
        let decider = ApprovalBroker.Decider(id: sender.id, name: sender.name, isAdmin: sender.isAdmin)
        guard parts.count >= 3, let broker else {
            removeButtonsLater(messageID)
            return "This request is no longer waiting."
        }
        let answer: String
        switch parts[0] {
        case "approve":
            guard let choice = ApprovalBroker.Choice(rawValue: parts[2]) else { return "Unknown choice." }
            answer = await broker.resolve(requestID: parts[1], choice: choice, by: decider)
        case "ask":
            guard parts.count == 4, let question = Int(parts[2]) else { return "Unknown choice." }
            let option: Int? = parts[3] == "done" ? nil : parts[3] == "skip" ? -1 : Int(parts[3])
            answer = await broker.answerQuestion(requestID: parts[1], question: question, option: option, by: decider)
        default:
            return "Unknown choice."
        }
        if answer.hasPrefix("This") { removeButtonsLater(messageID) }
        return answer
    }

    /// A reply to an approval message denies it with the reply as the reason.
    func denyByReply(to messageID: Int64, text: String, sender: Sender) async -> Bool {
        guard let broker else { return false }
        return await broker.denyByReply(to: messageID, text: text, by: ApprovalBroker.Decider(id: sender.id, name: sender.name, isAdmin: sender.isAdmin))
    }

    /// ExitPlanMode approved: the conversation continues in the mode the user picked.
    func planApproved(continueIn mode: PermissionMode) async {
        settings.permissionMode = mode
        await saveSettings()
        if let session { Task { try? await session.setPermissionMode(mode) } }
    }

    /// Not awaited: the tap's answer must not wait for the edit's turn in the chat.
    private func removeButtonsLater(_ messageID: Int64?) {
        guard let messageID else { return }
        let outbox = context.outbox, key = key
        Task {
            _ = try? await outbox.editReplyMarkup(
                EditMessageReplyMarkup(chatID: key.chatID, messageID: messageID, replyMarkup: nil), priority: .interactive)
        }
    }

    private func removeButtons(_ messageID: Int64?) async {
        guard let messageID else { return }
        _ = try? await context.outbox.editReplyMarkup(EditMessageReplyMarkup(chatID: key.chatID, messageID: messageID, replyMarkup: nil))
    }

    /// Runs an earlier run's prompt again in its session (after a restart cut it off, or a failure).
    func resume(_ run: RunRecord, by userID: Int64, note: String?) async {
        if !(await isIdleOnceConcluded()) {
            _ = try? await context.conversations.enqueue(run.prompt, messageID: 0, userID: userID, of: key)
            await reply("📥 Claude is busy; the prompt is queued after the current run.")
            return
        }
        if run.sessionID != settings.sessionID, let stored = try? await context.runs.session(run.sessionID) {
            if let session { await session.stop() }
            session = nil
            settings.sessionID = stored.id
            settings.project = WorkspacePath.isDirectory(stored.project) ? stored.project : settings.project
            settings.sessionStarted = true
            await saveSettings()
        }
        do {
            try await startRun(prompt: run.prompt, updateID: nil, requester: userID, notice: note)
        } catch {
            await reply("Could not start the run: \(TelegramHTML.escape("\(error)"))")
        }
    }

    /// After a restart: the run a crash cut off is reported, with a button to resume it.
    /// Stored with the run's "reported" mark, so that it is told exactly once, even across
    /// another crash.
    func reportInterrupted(_ run: RunRecord) async {
        var parts: [OutgoingPart] = []
        if let progress = run.progressMessageID {
            parts.append(.text(html: "⚠️ <b>Interrupted</b>: the bot restarted during this run.", replaces: progress))
        }
        let markup = await button("🔄 Resume", "resume:\(run.id)").map { InlineKeyboardMarkup([[$0]]) }
        parts.append(.text(
            html: "⚠️ The bot restarted while Claude was working on “\(TelegramHTML.escape(SessionTitle.make(run.prompt)))”. Resume to run it again in the same session.",
            buttons: markup))
        do {
            let records = try await context.runs.markReported(run: run.id, outgoing: parts, to: key)
            await context.delivery.deliver(records)
        } catch {
            logger.error("could not record the interrupted run's report", metadata: ["error": "\(error)"])
        }
    }
}
