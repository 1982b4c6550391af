import Logging

/// Everything the bot sends goes through here, so that it stays within Telegram's limits
/// without one chat holding up another:
///
/// - a lane per chat, in order, one request at a time, paced at about 1 message/s with
///   short bursts (20 per minute in groups), and a global pace of about 30/s;
/// - a 429 pauses only its chat for `retry_after`, then the same request is sent again;
/// - 5xx and network errors are retried with exponential backoff and jitter, up to a
///   bound (fewer for edits, so a message that cannot be edited does not hold its chat);
/// - "message is not modified" counts as success;
/// - an edit of a message that already has an edit waiting replaces that edit's text:
///   only the newest text is sent, and every caller gets its outcome.
///
/// Callback answers and chat actions skip the chat lanes: a tap must be answered at once
/// (the client spins until it is), and "typing…" must not delay real messages.
actor TelegramOutbox {
    struct Pacing: Sendable {
        var privateChat = RateLimiter(interval: .seconds(1), burst: 3)
        var groupChat = RateLimiter(count: 20, per: .seconds(60), burst: 3)
        var global = RateLimiter(interval: .milliseconds(34), burst: 30)
        var maxAttempts = 5
        var maxEditAttempts = 3
        var baseBackoff: Duration = .milliseconds(500)
        var maxBackoff: Duration = .seconds(30)
        /// Longest retry_after honoured by waiting; a longer one fails the request instead.
        var maxRetryAfter: Duration = .seconds(300)

        init() {}
    }

    enum Outcome: Sendable {
        case message(Message)
        case done
    }

    private final class Job {
        /// (chat, message) of an edit, for coalescing; nil for anything else.
        let editKey: EditKey?
        var operation: @Sendable (TelegramBotAPI) async throws(TelegramError) -> Outcome
        var waiters: [CheckedContinuation<Result<Outcome, TelegramError>, Never>] = []
        var started = false

        init(editKey: EditKey?, operation: @escaping @Sendable (TelegramBotAPI) async throws(TelegramError) -> Outcome) {
            self.editKey = editKey
            self.operation = operation
        }
    }

    private struct EditKey: Hashable {
        let chatID: Int64
        let messageID: Int64
    }

    private struct Lane {
        var jobs: [Job] = []
        var limiter: RateLimiter
        var pausedUntil: ContinuousClock.Instant?
        var running = false
    }

    private let api: TelegramBotAPI
    private let pacing: Pacing
    private let logger: Logger
    private var lanes: [Int64: Lane] = [:]
    private var global: RateLimiter
    private let clock = ContinuousClock()
    private var lastSweep = ContinuousClock.now

    init(api: TelegramBotAPI, pacing: Pacing = Pacing(), logger: Logger) {
        self.api = api
        self.pacing = pacing
        self.logger = logger
        global = pacing.global
    }

    // MARK: Paced, per chat

    func send(_ request: SendMessage) async throws(TelegramError) -> Message {
        try request.validate()
        return try await message(enqueue(chat: request.chatID, editKey: nil) { api throws(TelegramError) in
            .message(try await api.sendMessage(request))
        })
    }

    /// The edited message, or nil when Telegram says nothing changed.
    @discardableResult
    func edit(_ request: EditMessageText) async throws(TelegramError) -> Message? {
        try request.validate()
        let outcome = try await enqueue(chat: request.chatID, editKey: EditKey(chatID: request.chatID, messageID: request.messageID)) {
            api throws(TelegramError) in
            .message(try await api.editMessageText(request))
        }
        if case .message(let message) = outcome { return message }
        return nil
    }

    func editReplyMarkup(_ request: EditMessageReplyMarkup) async throws(TelegramError) {
        try request.validate()
        _ = try await enqueue(chat: request.chatID, editKey: nil) { api throws(TelegramError) in
            _ = try await api.editMessageReplyMarkup(request)
            return .done
        }
    }

    func delete(_ request: DeleteMessage) async throws(TelegramError) {
        _ = try await enqueue(chat: request.chatID, editKey: nil) { api throws(TelegramError) in
            try await api.deleteMessage(request)
            return .done
        }
    }

    func sendFile(
        method: String, chatID: Int64, messageThreadID: Int64?, caption: String?, file: TelegramBotAPI.Upload
    ) async throws(TelegramError) -> Message {
        try await message(enqueue(chat: chatID, editKey: nil) { api throws(TelegramError) in
            .message(try await api.sendFile(method: method, chatID: chatID, messageThreadID: messageThreadID, caption: caption, file: file))
        })
    }

    /// A draft of a streamed answer: paced like an edit, and coalesced like one, so a chat
    /// only ever gets the newest text.
    func draft(_ request: SendMessageDraft) async throws(TelegramError) {
        try request.validate()
        // Drafts are keyed apart from messages: a negative "message id" cannot collide.
        _ = try await enqueue(chat: request.chatID, editKey: EditKey(chatID: request.chatID, messageID: -request.draftID)) {
            api throws(TelegramError) in
            try await api.sendMessageDraft(request)
            return .done
        }
    }

    // MARK: Immediate

    /// Answered at once (global pace only), retried once on a network fault: the window for
    /// answering a tap is seconds.
    func answer(_ request: AnswerCallbackQuery) async throws(TelegramError) {
        try request.validate()
        await waitForGlobalSlot()
        do {
            try await api.answerCallbackQuery(request)
        } catch let error where error.isRetryable && error.retryAfter == nil {
            try await api.answerCallbackQuery(request)
        }
    }

    /// Best effort: skipped while the chat is under flood control, never retried. Not paced
    /// against the global message budget: it is a status, not a message, and the user
    /// should see at once that a prompt was taken.
    func chatAction(_ request: SendChatAction) async {
        if let paused = lanes[request.chatID]?.pausedUntil, paused > clock.now { return }
        try? await api.sendChatAction(request)
    }

    /// Best effort, like a chat action; false when Telegram refused it (e.g. reactions are
    /// off in that chat).
    @discardableResult
    func react(_ request: SetMessageReaction) async -> Bool {
        if let paused = lanes[request.chatID]?.pausedUntil, paused > clock.now { return false }
        do {
            try await api.setMessageReaction(request)
            return true
        } catch {
            logger.debug("reaction not set", metadata: ["chat_id": "\(request.chatID)", "error": "\(error)"])
            return false
        }
    }

    /// Requests waiting or in flight for a chat (tests, /status).
    func backlog(chat chatID: Int64) -> Int { lanes[chatID]?.jobs.count ?? 0 }

    // MARK: Lanes

    private func message(_ outcome: Outcome) throws(TelegramError) -> Message {
        guard case .message(let message) = outcome else {
            throw .unexpectedResponse(status: 200, detail: "no message in the answer")
        }
        return message
    }

    private func enqueue(
        chat chatID: Int64, editKey: EditKey?,
        _ operation: @escaping @Sendable (TelegramBotAPI) async throws(TelegramError) -> Outcome
    ) async throws(TelegramError) -> Outcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Outcome, TelegramError>, Never>) in
            var lane = lanes[chatID] ?? Lane(limiter: chatID < 0 ? pacing.groupChat : pacing.privateChat)
            if let editKey, let waiting = lane.jobs.last(where: { $0.editKey == editKey && !$0.started }) {
                // Not sent yet: send the newest text instead, once, for both callers.
                waiting.operation = operation
                waiting.waiters.append(continuation)
            } else {
                let job = Job(editKey: editKey, operation: operation)
                job.waiters.append(continuation)
                lane.jobs.append(job)
            }
            let start = !lane.running
            lane.running = true
            lanes[chatID] = lane
            if start { Task { await self.runLane(chatID) } }
        }
        return try result.get()
    }

    private func runLane(_ chatID: Int64) async {
        while let job = lanes[chatID]?.jobs.first {
            let result = await perform(job, chat: chatID)
            lanes[chatID]?.jobs.removeFirst()
            for waiter in job.waiters { waiter.resume(returning: result) }
        }
        // The lane outlives its queue: its limiter and any flood pause must still apply to
        // the chat's next message. Lanes whose limits no longer matter are swept.
        lanes[chatID]?.running = false
        sweepIdleLanes()
    }

    /// Forgets chats with nothing queued whose limiter has recovered; at most once a second.
    private func sweepIdleLanes() {
        let now = clock.now
        guard now - lastSweep >= .seconds(1) else { return }
        lastSweep = now
        lanes = lanes.filter { _, lane in
            lane.running || !lane.jobs.isEmpty || !lane.limiter.isIdle(now: now) || (lane.pausedUntil.map { $0 > now } ?? false)
        }
    }

    private func perform(_ job: Job, chat chatID: Int64) async -> Result<Outcome, TelegramError> {
        let maxAttempts = job.editKey == nil ? pacing.maxAttempts : pacing.maxEditAttempts
        var failures = 0
        while true {
            await waitForChatSlot(chatID)
            await waitForGlobalSlot()
            // From here the request is on its way: a newer edit can no longer replace it.
            job.started = true
            do {
                return .success(try await job.operation(api))
            } catch {
                if error.isMessageNotModified { return .success(.done) }
                if let retryAfter = error.retryAfter {
                    let wait = Duration.seconds(max(1, retryAfter))
                    guard wait <= pacing.maxRetryAfter else { return .failure(error) }
                    let until = clock.now + wait
                    lanes[chatID]?.pausedUntil = until
                    lanes[chatID]?.limiter.block(until: until)
                    logger.notice("flood control: chat paused", metadata: ["chat_id": "\(chatID)", "seconds": "\(retryAfter)"])
                    continue
                }
                failures += 1
                guard error.isRetryable, failures < maxAttempts else {
                    logger.warning(
                        "telegram request failed",
                        metadata: ["chat_id": "\(chatID)", "attempts": "\(failures)", "error": "\(error)"])
                    return .failure(error)
                }
                try? await Task.sleep(for: backoff(after: failures))
            }
        }
    }

    /// Exponential, capped, with ±50 % jitter so that retries from many chats do not align.
    private func backoff(after failures: Int) -> Duration {
        let exponential = pacing.baseBackoff * (1 << min(failures - 1, 16))
        let capped = min(exponential, pacing.maxBackoff)
        return capped * Double.random(in: 0.5..<1.5)
    }

    private func waitForChatSlot(_ chatID: Int64) async {
        let now = clock.now
        guard let delay = lanes[chatID]?.limiter.reserve(now: now) else { return }
        if let paused = lanes[chatID]?.pausedUntil, paused > now + delay {
            try? await Task.sleep(until: paused)
        } else if delay > .zero {
            try? await Task.sleep(for: delay)
        }
    }

    private func waitForGlobalSlot() async {
        let delay = global.reserve(now: clock.now)
        if delay > .zero { try? await Task.sleep(for: delay) }
    }
}
