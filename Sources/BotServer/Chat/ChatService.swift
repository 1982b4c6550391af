import ClaudeRunner
import FoundationEssentials
import Logging
import Synchronization

/// The chat layer's entry point: takes each stored update from the dispatcher, decides who
/// may do what, and hands it to its conversation.
///
/// Callback queries are answered here, before anything slow, because the Telegram client
/// spins until they are; conversations do the rest.
final class ChatService: ConversationHandler {
    let context: ChatContext
    private let registry = Mutex<[ConversationKey: Conversation]>([:])
    /// Prompts already acknowledged (typing, 👀) on receipt, by update id.
    private let acknowledged = Mutex<Set<Int64>>([])

    init(context: ChatContext) { self.context = context }

    func conversation(_ key: ConversationKey) -> Conversation {
        registry.withLock { conversations in
            if let existing = conversations[key] { return existing }
            let created = Conversation(key: key, context: context)
            conversations[key] = created
            return created
        }
    }

    func handle(_ record: InboxRecord, attempt: Int) async throws {
        let update: Update
        do {
            update = try JSONDecoder().decode(Update.self, from: Data(record.payload))
        } catch {
            // Stored because its envelope was fine; a body the chat layer cannot read is logged, not retried.
            context.logger.warning("update not understood; ignored", metadata: ["update_id": "\(record.updateID)", "error": "\(error)"])
            return
        }
        if let message = update.message {
            try await handle(message, updateID: record.updateID, attempt: attempt)
        } else if let query = update.callbackQuery {
            await handle(query)
        } else if let member = update.myChatMember {
            try? await context.audit.record(
                event: "membership", userID: member.from.id, chatID: member.chat.id, detail: member.newChatMember.status)
            context.logger.info("bot membership changed", metadata: ["chat_id": "\(member.chat.id)", "status": "\(member.newChatMember.status)"])
        } else if let stopped = update.stoppedMessageGeneration {
            // The stop button under a streamed draft: the same as /cancel.
            let key = ConversationKey(chatID: stopped.chat.id, threadID: stopped.messageThreadID)
            await conversation(key).cancelRun()
        } else if update.editedMessage != nil {
            // Telegram sends these for changes the user did not make too; a prompt is what was sent.
            context.logger.debug("edited message ignored", metadata: ["update_id": "\(record.updateID)"])
        }
    }

    /// On receipt, before the update waits for its lane: an allowed user's prompt gets
    /// "typing…" and 👀 at once. Only what is cheap to tell from the update is done here;
    /// the rest (commands, groups, replies) waits for `handle`.
    func received(_ record: InboxRecord) {
        guard record.kind == "message", let key = record.conversation, key.chatID > 0,
            let update = try? JSONDecoder().decode(Update.self, from: Data(record.payload)),
            let message = update.message, let user = message.from, !user.isBot, context.settings.isAllowed(user.id),
            let text = message.text, !text.hasPrefix("/"), !text.trimmingWhitespace().isEmpty, message.replyToMessage == nil
        else { return }
        // Told on arrival and again once committed: acknowledged once.
        guard acknowledged.withLock({ $0.insert(record.updateID).inserted }) else { return }
        Conversation.acknowledge(messageID: message.messageID, updateID: record.updateID, in: key, context: context)
    }

    // MARK: Messages

    private func handle(_ message: Message, updateID: Int64, attempt: Int) async throws {
        guard let user = message.from, !user.isBot else { return }
        if message.migrateToChatID != nil { return }
        let key = ConversationKey(chatID: message.chat.id, threadID: message.isTopicMessage == true ? message.messageThreadID : nil)
        let isGroup = !message.chat.isPrivate
        let text = message.text ?? message.caption ?? ""
        let entities = message.text != nil ? message.entities : message.captionEntities
        let command = CommandParser.parse(text, entities: entities)

        if isGroup {
            if let command, !context.identity.isAddressedToMe(command.addressee) { return }
            guard command != nil || mentionsMe(text, entities) || isReplyToMe(message) else { return }
        } else if let command, !context.identity.isAddressedToMe(command.addressee) {
            return
        }
        guard context.settings.isAllowed(user.id) else {
            await refuse(user, chatID: message.chat.id, key: key, what: command.map { "/" + $0.name } ?? "message")
            return
        }
        if attempt > 1, (try? await context.runs.hasRun(forUpdate: updateID)) == true {
            context.logger.notice("update delivered again after a restart; its run was already started", metadata: ["update_id": "\(updateID)"])
            return
        }
        let conversation = conversation(key)
        let sender = Conversation.Sender(id: user.id, name: user.firstName, isAdmin: context.settings.isAdmin(user.id))
        if command == nil, let replied = message.replyToMessage?.message, isReplyToMe(message), !text.isEmpty,
            await conversation.denyByReply(to: replied.messageID, text: text, sender: sender)
        {
            return
        }
        if let command {
            try await conversation.command(command, messageID: message.messageID, updateID: updateID, sender: sender)
            return
        }
        if message.photo != nil || message.voice != nil || message.audio != nil || message.document != nil {
            try await conversation.media(message, updateID: updateID, from: user.id)
            return
        }
        // Text replying to a voice note: the note's transcript with the text.
        if let replied = message.replyToMessage?.message, replied.voice != nil || replied.audio != nil, !text.isEmpty {
            try await conversation.voiceReply(text, to: replied, messageID: message.messageID, updateID: updateID, from: user.id)
            return
        }
        let prompt = isGroup ? stripMention(text) : text
        guard !prompt.trimmingWhitespace().isEmpty else { return }
        let alreadyAcknowledged = acknowledged.withLock { $0.remove(updateID) } != nil
        try await conversation.prompt(
            prompt, messageID: message.messageID, updateID: updateID, isForward: message.isForwarded, from: user.id,
            acknowledged: alreadyAcknowledged)
    }

    private func mentionsMe(_ text: String, _ entities: [MessageEntity]?) -> Bool {
        guard let username = context.identity.username else { return false }
        return text.lowercased().contains("@" + username.lowercased())
    }

    private func isReplyToMe(_ message: Message) -> Bool {
        message.replyToMessage?.message.from?.id == context.identity.userID && context.identity.userID != 0
    }

    private func stripMention(_ text: String) -> String {
        guard let username = context.identity.username else { return text }
        return text.replacingAll("@" + username, with: "").trimmingWhitespace()
    }

    /// One short refusal an hour per user; always an audit row; nothing runs.
    private func refuse(_ user: User, chatID: Int64, key: ConversationKey, what: String) async {
        context.logger.notice("refused an unknown user", metadata: ["user_id": "\(user.id)", "chat_id": "\(chatID)"])
        let tell = (try? await context.audit.refuse(userID: user.id, chatID: chatID, detail: what)) ?? false
        guard tell else { return }
        // Not awaited: a stranger's chat must not hold up anything, even while Telegram is slow.
        let outbox = context.outbox
        Task {
            _ = try? await outbox.send(SendMessage(
                chatID: chatID, messageThreadID: key.threadID,
                text: "Sorry, this bot is private. Your Telegram user id is \(user.id): its owner can let you in with it."))
        }
    }

    // MARK: Buttons

    private func handle(_ query: CallbackQuery) async {
        guard context.settings.isAllowed(query.from.id) else {
            try? await context.outbox.answer(AnswerCallbackQuery(callbackQueryID: query.id, text: "This bot is private.", showAlert: true))
            _ = try? await context.audit.refuse(userID: query.from.id, chatID: query.message?.chat.id, detail: "button")
            return
        }
        guard let message = query.message, let data = query.data else {
            try? await context.outbox.answer(AnswerCallbackQuery(callbackQueryID: query.id))
            return
        }
        let key = ConversationKey(chatID: message.chat.id, threadID: message.isTopicMessage == true ? message.messageThreadID : nil)
        let payload = try? await context.callbacks.payload(data, conversation: key)
        let sender = Conversation.Sender(id: query.from.id, name: query.from.firstName, isAdmin: context.settings.isAdmin(query.from.id))
        if let payload, payload.hasPrefix("approve:") || payload.hasPrefix("ask:") {
            // Decided in memory at once; the answer tells the tapper what happened.
            let answer = await conversation(key).decide(payload, sender: sender, messageID: message.messageID)
            try? await context.outbox.answer(AnswerCallbackQuery(callbackQueryID: query.id, text: answer))
            return
        }
        // The tap's answer is all a Cancel gets besides its progress message turning into the card.
        let toast = payload == nil ? "This button has expired." : payload == "cancel" ? "⏹ Stopping Claude…" : nil
        try? await context.outbox.answer(AnswerCallbackQuery(callbackQueryID: query.id, text: toast))
        guard let payload else { return }
        let tap = Conversation.Tap(data: data, keyboard: message.replyMarkup?.markup)
        await conversation(key).callback(payload, sender: sender, messageID: message.messageID, tap: tap)
    }

    // MARK: Start and stop

    /// At start-up, before any update is handled: runs still marked running were cut off.
    func markInterruptedRuns() async throws {
        let marked = try await context.runs.markInterrupted()
        if marked > 0 { context.logger.notice("runs interrupted by the restart", metadata: ["runs": "\(marked)"]) }
    }

    /// After start-up: interrupted runs are reported to their chats; queued prompts start;
    /// scheduled continuations are armed again.
    func resumeAfterRestart() async {
        // First what a crash left unsent (answers, cards, notices), in the order it was stored.
        await context.delivery.resumePending()
        do {
            // The CLI that asked these is gone: they can no longer be answered.
            for approval in try await context.permissions.expirePending() {
                guard let messageID = approval.messageID else { continue }
                _ = try? await context.outbox.edit(EditMessageText(
                    chatID: approval.conversation.chatID, messageID: messageID,
                    text: ApprovalText.decided(approval.summary) + "\n\n⌛ Expired: the bot restarted before this was answered.", parseMode: .html))
            }
            for run in try await context.runs.unreportedInterruptions() {
                await conversation(run.conversation).reportInterrupted(run)
            }
            for key in try await context.conversations.conversationsWithQueuedPrompts() {
                await conversation(key).startQueued()
            }
            for continuation in try await context.continuations.all() {
                await conversation(continuation.conversation).restore(continuation)
            }
        } catch {
            context.logger.error("could not report interrupted runs", metadata: ["error": "\(error)"])
        }
    }

    /// At shutdown: every Claude process is stopped (its tools with it).
    func stopAll() async {
        context.shutdown.begin()
        let conversations = registry.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for conversation in conversations { group.addTask { await conversation.stopSession() } }
        }
    }
}
