import Logging

/// Everything the bot sends goes through here, so that it stays within Telegram's limits
/// without one chat holding up another:
///
/// - a lane per chat, one request at a time, paced by a token bucket per chat (about
///   1 message/s with bursts of 3; 20 per minute in groups, bursts of 5) and a global one
///   (about 30/s);
/// - the lane sends its most important request first (`OutboxPriority`): approval questions,
///   then answers and replies, then progress edits, which never take a chat's last free
///   slot; in order within a priority;
/// - a 429 pauses only its chat for `retry_after`, then the same request is sent again;
/// - 5xx and network errors are retried with exponential backoff and jitter, up to a
///   bound (fewer for edits, so a message that cannot be edited does not hold its chat);
/// - an edit that would change nothing is not sent, and "message is not modified" counts
///   as success; a progress (background) edit of a message that already got a foreground
///   edit is stale and dropped;
/// - an edit of a message that already has an edit waiting replaces that edit's text:
///   only the newest text is sent, and every caller gets its outcome.
///
/// Callback answers and chat actions skip the chat lanes: a tap must be answered at once
/// (the client spins until it is), and "typing…" must not delay real messages.
actor TelegramOutbox {
    struct Pacing: Sendable {
        var privateChat = RateLimiter(interval: .seconds(1), burst: 3)
        /// 20 a minute, with room for a burst of 5 (so two topics' answers can go at once).
        var groupChat = RateLimiter(count: 20, per: .seconds(60), burst: 5)
        var global = RateLimiter(interval: .milliseconds(34), burst: 30)
        var maxAttempts = 5
        var maxEditAttempts = 3
        var baseBackoff: Duration = .milliseconds(500)
        var maxBackoff: Duration = .seconds(30)
        /// Longest retry_after honoured by waiting; a longer one fails the request instead.
        var maxRetryAfter: Duration = .seconds(300)
        /// Slots of a chat's burst that background requests leave free: for the answer in a
        /// private chat; in a group, for the answers of two topics at once.
        var reservedInPrivateChats = 1
        var reservedInGroups = 2

        init() {}
    }

    enum Outcome: Sendable {
        case message(Message)
        case done
    }

    private final class Job {
        /// (chat, message) of an edit, for coalescing; nil for anything else.
        let editKey: EditKey?
        var priority: OutboxPriority
        var operation: @Sendable (TelegramBotAPI) async throws(TelegramError) -> Outcome
        /// What the message shows once this succeeds (edits and sends), for skipping no-op edits.
        var content: MessageContent?
        var waiters: [CheckedContinuation<Result<Outcome, TelegramError>, Never>] = []
        var started = false
        var failures = 0
        /// After a failure: not before this instant (the backoff).
        var notBefore: ContinuousClock.Instant?

        init(
            editKey: EditKey?, priority: OutboxPriority, content: MessageContent?,
            operation: @escaping @Sendable (TelegramBotAPI) async throws(TelegramError) -> Outcome
        ) {
            self.editKey = editKey
            self.priority = priority
            self.content = content
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
        /// The lane's wait for a slot; cancelled to look again when a more important request comes.
        var sleeper: Task<Void, Never>?
    }

    private let api: TelegramBotAPI
    private let pacing: Pacing
    private let logger: Logger
    private var lanes: [Int64: Lane] = [:]
    private var global: RateLimiter
    private var contents = RecentContents()
    private var sealed = SealedMessages()
    private let clock = ContinuousClock()
    private var lastSweep = ContinuousClock.now

    init(api: TelegramBotAPI, pacing: Pacing = Pacing(), logger: Logger) {
        self.api = api
        self.pacing = pacing
        self.logger = logger
        global = pacing.global
    }

    // MARK: Paced, per chat

    func send(_ request: SendMessage, priority: OutboxPriority = .normal) async throws(TelegramError) -> Message {
        try request.validate()
        let content = MessageContent(text: request.text, parseMode: request.parseMode, replyMarkup: request.replyMarkup)
        return try await message(enqueue(chat: request.chatID, editKey: nil, priority: priority, content: content) {
            api throws(TelegramError) in
            .message(try await api.sendMessage(request))
        })
    }

    /// The edited message, or nil when nothing changed (then nothing was sent, or Telegram
    /// said the message was not modified).
    @discardableResult
    func edit(_ request: EditMessageText, priority: OutboxPriority = .normal) async throws(TelegramError) -> Message? {
        try request.validate()
        let content = MessageContent(text: request.text, parseMode: request.parseMode, replyMarkup: request.replyMarkup)
        let key = EditKey(chatID: request.chatID, messageID: request.messageID)
        let outcome = try await enqueue(chat: request.chatID, editKey: key, priority: priority, content: content) {
            api throws(TelegramError) in
            .message(try await api.editMessageText(request))
        }
        if case .message(let message) = outcome { return message }
        return nil
    }

    func editReplyMarkup(_ request: EditMessageReplyMarkup, priority: OutboxPriority = .normal) async throws(TelegramError) {
        try request.validate()
        _ = try await enqueue(chat: request.chatID, editKey: nil, priority: priority, content: nil) { api throws(TelegramError) in
            _ = try await api.editMessageReplyMarkup(request)
            return .done
        }
        // The text stays as it was, but what the bot last set is no longer known exactly.
        contents.set(nil, chatID: request.chatID, messageID: request.messageID)
    }

    func delete(_ request: DeleteMessage, priority: OutboxPriority = .normal) async throws(TelegramError) {
        contents.set(nil, chatID: request.chatID, messageID: request.messageID)
        // Progress edits of a message on its way out would only earn "message to edit not found".
        sealed.seal(chatID: request.chatID, messageID: request.messageID)
        dropWaiting(EditKey(chatID: request.chatID, messageID: request.messageID))
        _ = try await enqueue(chat: request.chatID, editKey: nil, priority: priority, content: nil) { api throws(TelegramError) in
            try await api.deleteMessage(request)
            return .done
        }
    }

    func sendFile(
        method: String, chatID: Int64, messageThreadID: Int64?, caption: String?, file: TelegramBotAPI.Upload,
        priority: OutboxPriority = .normal
    ) async throws(TelegramError) -> Message {
        try await message(enqueue(chat: chatID, editKey: nil, priority: priority, content: nil) { api throws(TelegramError) in
            .message(try await api.sendFile(method: method, chatID: chatID, messageThreadID: messageThreadID, caption: caption, file: file))
        })
    }

    /// A draft of a streamed answer: paced like a progress edit, and coalesced like one, so a
    /// chat only ever gets the newest text.
    func draft(_ request: SendMessageDraft) async throws(TelegramError) {
        try request.validate()
        // Drafts are keyed apart from messages: a negative "message id" cannot collide.
        _ = try await enqueue(
            chat: request.chatID, editKey: EditKey(chatID: request.chatID, messageID: -request.draftID), priority: .background,
            content: nil
        ) { api throws(TelegramError) in
            try await api.sendMessageDraft(request)
            return .done
        }
    }

    /// The streamed answer is complete: a draft still waiting is dropped, and any later one
    /// too (the answer's own message takes the draft's place).
    func endDraft(chatID: Int64, draftID: Int64) {
        sealed.seal(chatID: chatID, messageID: -draftID)
        dropWaiting(EditKey(chatID: chatID, messageID: -draftID))
    }

    /// Background edits of `key` not yet on their way are dropped; their callers get "done".
    private func dropWaiting(_ key: EditKey) {
        guard let waiting = lanes[key.chatID]?.jobs.filter({ $0.editKey == key && !$0.started && $0.priority == .background }),
            !waiting.isEmpty
        else { return }
        lanes[key.chatID]?.jobs.removeAll { job in waiting.contains { $0 === job } }
        for job in waiting {
            for waiter in job.waiters { waiter.resume(returning: .success(.done)) }
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

    // MARK: Lanes

    /// Requests waiting or in flight for a chat (tests, /status).
    func backlog(chat chatID: Int64) -> Int { lanes[chatID]?.jobs.count ?? 0 }

    /// Callers waiting on a chat's requests: coalesced edits are one request with several (tests).
    func callers(chat chatID: Int64) -> Int { lanes[chatID]?.jobs.reduce(0) { $0 + $1.waiters.count } ?? 0 }

    /// Waits until every lane is empty, or until `deadline` (shutdown: what is queued goes
    /// out within the grace period). True when everything went.
    func drain(until deadline: ContinuousClock.Instant) async -> Bool {
        while lanes.values.contains(where: { !$0.jobs.isEmpty }) {
            guard clock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    private func message(_ outcome: Outcome) throws(TelegramError) -> Message {
        guard case .message(let message) = outcome else {
            throw .unexpectedResponse(status: 200, detail: "no message in the answer")
        }
        return message
    }

    private func enqueue(
        chat chatID: Int64, editKey: EditKey?, priority: OutboxPriority, content: MessageContent?,
        _ operation: @escaping @Sendable (TelegramBotAPI) async throws(TelegramError) -> Outcome
    ) async throws(TelegramError) -> Outcome {
        if let editKey {
            // A progress edit after the message got its final content would undo it (and a
            // draft after its answer would show the partial text again).
            if priority == .background, sealed.contains(chatID: chatID, messageID: editKey.messageID) { return .done }
            if priority > .background, editKey.messageID > 0 { sealed.seal(chatID: chatID, messageID: editKey.messageID) }
        }
        var lane = lanes[chatID] ?? Lane(limiter: chatID < 0 ? pacing.groupChat : pacing.privateChat)
        let waiting = editKey.flatMap { key in lane.jobs.last(where: { $0.editKey == key && !$0.started }) }
        let inFlight = editKey.map { key in lane.jobs.contains { $0.editKey == key && $0.started } } ?? false
        if let editKey, let content, !inFlight, contents[editKey.chatID, editKey.messageID] == content {
            // The message already shows this: nothing to send, and a waiting edit that would
            // change it to something older is dropped.
            if let waiting {
                lane.jobs.removeAll { $0 === waiting }
                lanes[chatID] = lane
                for waiter in waiting.waiters { waiter.resume(returning: .success(.done)) }
            }
            return .done
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Outcome, TelegramError>, Never>) in
            if let waiting {
                // Not sent yet: send the newest text instead, once, for both callers.
                waiting.operation = operation
                waiting.content = content
                waiting.priority = max(waiting.priority, priority)
                waiting.waiters.append(continuation)
            } else {
                let job = Job(editKey: editKey, priority: priority, content: content, operation: operation)
                job.waiters.append(continuation)
                lane.jobs.append(job)
            }
            // A lane waiting for a slot looks again: this request may be the one to send first.
            if priority > .background { lane.sleeper?.cancel() }
            let start = !lane.running
            lane.running = true
            lanes[chatID] = lane
            if start { Task { await self.runLane(chatID) } }
        }
        return try result.get()
    }

    /// The first of the most important requests: in queue order within a priority.
    private func next(in jobs: [Job]) -> Job? {
        var best: Job?
        for job in jobs where best == nil || job.priority > best!.priority { best = job }
        return best
    }

    private func runLane(_ chatID: Int64) async {
        while let lane = lanes[chatID], let job = next(in: lane.jobs) {
            let now = clock.now
            let reserved = job.priority > .background ? 0 : chatID < 0 ? pacing.reservedInGroups : pacing.reservedInPrivateChats
            var wait = lane.limiter.delay(now: now, reserving: reserved)
            if let paused = lane.pausedUntil, paused > now { wait = max(wait, paused - now) }
            if let notBefore = job.notBefore, notBefore > now { wait = max(wait, notBefore - now) }
            if wait > .zero {
                await sleep(chatID, for: wait)
                continue
            }
            lanes[chatID]?.limiter.take(now: now)
            await waitForGlobalSlot()
            // From here the request is on its way: a newer edit can no longer replace it.
            job.started = true
            guard let result = await attempt(job, chat: chatID) else {
                job.started = false
                continue
            }
            lanes[chatID]?.jobs.removeAll { $0 === job }
            if case .success = result, let content = job.content {
                switch result {
                case .success(.message(let message)): contents.set(content, chatID: chatID, messageID: message.messageID)
                default: if let key = job.editKey, key.messageID > 0 { contents.set(content, chatID: chatID, messageID: key.messageID) }
                }
            }
            for waiter in job.waiters { waiter.resume(returning: result) }
        }
        // The lane outlives its queue: its limiter and any flood pause must still apply to
        // the chat's next message. Lanes whose limits no longer matter are swept.
        lanes[chatID]?.running = false
        sweepIdleLanes()
    }

    private func sleep(_ chatID: Int64, for duration: Duration) async {
        let sleeper = Task { _ = try? await Task.sleep(for: duration) }
        lanes[chatID]?.sleeper = sleeper
        await sleeper.value
        lanes[chatID]?.sleeper = nil
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

    /// One try. The result when the job is over (sent, or failed for good); nil when it is to
    /// be tried again (a 429 paused the chat, or a fault set a backoff).
    private func attempt(_ job: Job, chat chatID: Int64) async -> Result<Outcome, TelegramError>? {
        let maxAttempts = job.editKey == nil ? pacing.maxAttempts : pacing.maxEditAttempts
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
                return nil
            }
            job.failures += 1
            guard error.isRetryable, job.failures < maxAttempts else {
                logger.warning(
                    "telegram request failed",
                    metadata: ["chat_id": "\(chatID)", "attempts": "\(job.failures)", "error": "\(error)"])
                return .failure(error)
            }
            job.notBefore = clock.now + backoff(after: job.failures)
            return nil
        }
    }

    /// Exponential, capped, with ±50 % jitter so that retries from many chats do not align.
    private func backoff(after failures: Int) -> Duration {
        let exponential = pacing.baseBackoff * (1 << min(failures - 1, 16))
        let capped = min(exponential, pacing.maxBackoff)
        return capped * Double.random(in: 0.5..<1.5)
    }

    private func waitForGlobalSlot() async {
        let delay = global.reserve(now: clock.now)
        if delay > .zero { try? await Task.sleep(for: delay) }
    }
}
