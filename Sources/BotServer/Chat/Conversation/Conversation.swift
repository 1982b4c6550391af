import ClaudeRunner
import FoundationEssentials
import Logging

/// One Telegram conversation (a private chat, or one forum topic): its project, its Claude
/// session, its settings, the run in progress and the prompt waiting for it.
///
/// Every method returns quickly: a run is a task of its own, so that /cancel, /status and
/// button taps are answered while Claude works (the dispatcher hands this actor one update
/// at a time, and a run waiting for an approval tap must not hold that line).
actor Conversation {
    struct ActiveRun {
        var id: Int64
        let prompt: String
        let startedAt: ContinuousClock.Instant
        /// Who asked: they (or an admin) answer the run's approvals.
        let requesterID: Int64
        var task: Task<Void, Never>?
        /// The user's message that asked for it (0: none, e.g. a button or a queued prompt):
        /// its 👀 reaction becomes the run's outcome.
        var promptMessageID: Int64 = 0
        var cancelRequested = false
        var waitingForSlot = false
        var progress = RunProgress(project: "")
        var progressMessage: ProgressMessage?
        var cancelMarkup: InlineKeyboardMarkup?
        var drafts: Throttled<String>?
        /// A draft reached the chat: the answer must then come as a new message, which is
        /// what makes Telegram drop the draft.
        var draftShown = false
        /// A line under the progress (e.g. "Resuming the interrupted run.").
        var notice: String?
        var lastEventAt = ContinuousClock.now
        var silenceNoticeSent = false
        var elapsedBucket = 0
        /// Claude has finished; the card and the answer are being delivered.
        var concluding = false
    }

    let key: ConversationKey
    let context: ChatContext
    var logger: Logger
    var settings: ConversationSettings
    private var loaded = false
    var session: ClaudeSession?
    var broker: ApprovalBroker?
    var active: ActiveRun?
    var forwardTimer: Task<Void, Never>?
    /// Private chats get drafts and a faster edit pace; groups are paced at a third.
    var isPrivate: Bool
    /// "Continue at": when it is due (unix ms; kept in ContinuationStore too) and its timer.
    var scheduledContinuation: (dueAt: Int64, timer: Task<Void, Never>)?
    /// Files the user sent that wait for the prompt they belong to.
    var pendingAttachments: [Attachment] = []
    var pendingCaption: String?
    var albumTimer: Task<Void, Never>?
    /// An answer whose Show diff / Commit / Discard row was tapped, and its keyboard without
    /// that row: once a commit or a discard is done, the row is stale and goes.
    var gitActionsMessage: (messageID: Int64, otherRows: InlineKeyboardMarkup?)?
    /// The model the CLI said it runs (its init message), for /status between runs.
    var reportedModel: String?
    /// Per session: the CLI's running cost total at the last result.
    var costBaselines: [String: Double] = [:]

    init(key: ConversationKey, context: ChatContext) {
        self.key = key
        self.context = context
        var logger = context.logger
        logger[metadataKey: "conversation"] = "\(key)"
        self.logger = logger
        isPrivate = key.chatID > 0
        settings = ConversationSettings(
            project: context.settings.defaultProject ?? context.settings.workspaceRoot, sessionID: Self.newSessionID(),
            sessionStarted: false, permissionMode: .default, model: nil)
    }

    static func newSessionID() -> String { UUID().uuidString.lowercased() }

    /// Reads the stored settings the first time the conversation is used.
    func load() async throws {
        guard !loaded else { return }
        // A new conversation is saved when something of it changes (its session starts, a
        // command sets something): its first prompt does not wait for a write.
        if let stored = try await context.conversations.settings(of: key) {
            settings = stored
            // The folder may have gone (or the root moved): fall back rather than fail every prompt.
            if !WorkspacePath.isDirectory(stored.project) || !WorkspacePath.contains(root: context.settings.workspaceRoot, stored.project) {
                settings.project = context.settings.defaultProject ?? context.settings.workspaceRoot
            }
        }
        loaded = true
    }

    func saveSettings() async {
        do {
            try await context.conversations.save(settings, of: key)
        } catch {
            logger.error("could not save conversation settings", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Prompts

    /// A prompt from the user. Runs at once when idle; otherwise it is queued (joined to
    /// what is already queued) and the notice offers to send it now. Forwarded messages
    /// are collected for a short window first, so that a batch of forwards is one prompt.
    func prompt(
        _ text: String, messageID: Int64, updateID: Int64?, isForward: Bool, from userID: Int64, acknowledged: Bool = false
    ) async throws {
        // Before anything that waits: the user sees at once that the prompt was taken.
        if messageID != 0 && !acknowledged { acknowledge(messageID: messageID, updateID: updateID) }
        try await load()
        let window = context.settings.forwardCollectWindow
        if isForward && window > .zero {
            _ = try await context.conversations.enqueue(text, messageID: messageID, userID: userID, of: key)
            forwardTimer?.cancel()
            forwardTimer = Task { [weak self] in
                try? await Task.sleep(for: window)
                guard !Task.isCancelled, let self else { return }
                await self.forwardWindowClosed()
            }
            return
        }
        await waitForConcludingRun()
        if active != nil || forwardTimer != nil {
            let text = takeAttachments(into: text).text
            let queued = try await context.conversations.enqueue(text, messageID: messageID, userID: userID, of: key)
            await showQueuedNotice(queued)
            return
        }
        let (withFiles, images) = takeAttachments(into: text)
        try await startRun(prompt: withFiles, updateID: updateID, requester: userID, images: images, promptMessageID: messageID)
    }

    private func forwardWindowClosed() async {
        forwardTimer = nil
        if active == nil { await startQueued() }
    }

    /// Starts the queued prompt, if there is one and nothing is running.
    func startQueued() async {
        guard active == nil, forwardTimer == nil else { return }
        do {
            try await load()
            guard let queued = try await context.conversations.takeQueued(of: key) else { return }
            if let notice = queued.noticeID {
                _ = try? await context.outbox.edit(EditMessageText(
                    chatID: key.chatID, messageID: notice, text: "▶️ Your queued message is on its way to Claude.", replyMarkup: nil))
            }
            try await startRun(prompt: queued.text, updateID: nil, requester: queued.userID, promptMessageID: queued.messageID)
        } catch {
            logger.error("could not start the queued prompt", metadata: ["error": "\(error)"])
        }
    }

    func showQueuedNotice(_ queued: QueuedPrompt) async {
        let text = "📥 Queued: it goes to Claude when the current run ends. Messages you send meanwhile are added to it."
        do {
            let sendNow = try await context.callbacks.register("sendnow", conversation: key)
            let markup = InlineKeyboardMarkup([[.callback("▶️ Send now (stop the current run)", data: sendNow)]])
            if let notice = queued.noticeID {
                _ = try await context.outbox.edit(
                    EditMessageText(chatID: key.chatID, messageID: notice, text: text + "\n\nNow \(queued.text.count) characters.", replyMarkup: markup))
            } else {
                let message = try await context.outbox.send(
                    SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: text, replyMarkup: markup,
                                replyParameters: queued.messageID == 0 ? nil : ReplyParameters(messageID: queued.messageID, allowSendingWithoutReply: true)))
                try await context.conversations.setQueuedNotice(message.messageID, of: key)
            }
        } catch {
            logger.warning("queued notice not sent", metadata: ["error": "\(error)"])
        }
    }

    /// The user sees at once that the prompt was taken: 👀 on their message and "typing…".
    func acknowledge(messageID: Int64, updateID: Int64?) {
        Self.acknowledge(messageID: messageID, updateID: updateID, in: key, context: context)
    }

    nonisolated static func typing(in key: ConversationKey, context: ChatContext) {
        let outbox = context.outbox
        Task { await outbox.chatAction(SendChatAction(chatID: key.chatID, messageThreadID: key.threadID, action: .typing)) }
    }

    /// Neither is awaited: recording the run must not wait for Telegram's answers.
    /// `updateID` times the typing action from the update's receipt (botserver_update_to_typing_seconds).
    nonisolated static func acknowledge(messageID: Int64, updateID: Int64?, in key: ConversationKey, context: ChatContext) {
        let outbox = context.outbox, features = context.features, latency = context.metrics.latency
        Task {
            if let updateID { latency.typingIssued(for: updateID) }
            await outbox.chatAction(SendChatAction(chatID: key.chatID, messageThreadID: key.threadID, action: .typing))
        }
        guard features.reactionsAvailable(in: key.chatID) else { return }
        Task {
            if !(await outbox.react(SetMessageReaction(chatID: key.chatID, messageID: messageID, emoji: "👀"))) {
                features.disableReactions(in: key.chatID)
            }
        }
    }

    // MARK: Session

    /// The Claude session for the current settings, started again if they changed.
    func currentSession() async -> ClaudeSession {
        if let session, session.options.sessionID == settings.sessionID, session.options.workingDirectory == settings.project {
            return session
        }
        if let old = session { await old.stop() }
        var options = SessionOptions(workingDirectory: settings.project, sessionID: settings.sessionID, resume: settings.sessionStarted)
        options.model = settings.model
        options.permissionMode = settings.permissionMode
        let broker = ApprovalBroker(
            context: context, key: key, project: { [weak self] in await self?.settings.project ?? "" },
            requester: { [weak self] in await self?.active?.requesterID },
            onChange: { [weak self] waiting in await self?.approvalsChanged(waiting) },
            onPlanApproved: { [weak self] mode in await self?.planApproved(continueIn: mode) })
        self.broker = broker
        var sessionLogger = logger
        sessionLogger[metadataKey: "session"] = "\(settings.sessionID)"
        let created = ClaudeSession(
            configuration: context.settings.claude, options: options, delegate: broker, logger: sessionLogger,
            observer: context.warmSessions)
        session = created
        return created
    }

    /// Ends the current session's process and points the conversation at a new session.
    func startFreshSession() async {
        if let session { await session.stop() }
        session = nil
        settings.sessionID = Self.newSessionID()
        settings.sessionStarted = false
        await saveSettings()
    }

    /// Stops the Claude process (after a run is cancelled, or at shutdown).
    func stopSession() async {
        if let session { await session.stop() }
    }

    // MARK: Replies

    func reply(_ html: String, markup: InlineKeyboardMarkup? = nil) async {
        do {
            _ = try await context.outbox.send(
                SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: html, parseMode: .html, replyMarkup: markup))
        } catch let error where error.isEntityParseError {
            _ = try? await context.outbox.send(SendMessage(
                chatID: key.chatID, messageThreadID: key.threadID, text: AnswerFormatter.plainText(html: html), replyMarkup: markup))
        } catch {
            logger.warning("reply not sent", metadata: ["error": "\(error)"])
        }
    }

    func button(_ label: String, _ payload: String) async -> InlineKeyboardButton? {
        guard let data = try? await context.callbacks.register(payload, conversation: key) else { return nil }
        return .callback(label, data: data)
    }
}
