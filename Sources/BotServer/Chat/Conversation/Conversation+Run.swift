import ClaudeRunner
import Logging

/// A run, from the prompt sent to the answer delivered (how it starts: Conversation+RunStart.swift).
extension Conversation {
    /// A run that only delivers its answer is over for the user, who may well be replying to
    /// it (or tapping Continue): what comes now waits for the delivery instead of being
    /// queued behind it with a notice.
    func waitForConcludingRun() async {
        if let finishing = active, finishing.concluding, let task = finishing.task { await task.value }
    }

    /// Whether nothing runs, once a run that only delivers its answer has delivered it: a
    /// command that needs the conversation idle (/new, /cd, picking a session, git changes),
    /// sent the moment the answer appeared, must not be told that Claude is still working.
    func isIdleOnceConcluded() async -> Bool {
        await waitForConcludingRun()
        return active == nil
    }

    func execute(
        runID: Int64, updateID: Int64?, prompt: String, images: [JSONValue], notice: String?, early: EarlyStart?
    ) async {
        var runLogger = logger
        runLogger[metadataKey: "run"] = "\(runID)"
        // A prompt sent early holds its slot already (and a /cancel meanwhile stopped its session).
        var started = early != nil
        if !started && active?.cancelRequested != true { started = await takeSlot() }
        guard started else {
            await finish(
                runID: runID, sessionID: settings.sessionID,
                completion: RunCompletion(
                    outcome: .cancelled, costUSD: 0, inputTokens: 0, outputTokens: 0, turns: 0, error: "cancelled while waiting"),
                outgoing: [.text(html: "⏹ Cancelled before it started.")])
            return await runEnded()
        }
        let clock = ContinuousClock()
        let startedAt = clock.now
        active?.progress = RunProgress(project: settings.project)
        active?.progressMessage = ProgressMessage(outbox: context.outbox, key: key, interval: editInterval, logger: logger)
        active?.cancelMarkup = await button("⏹ Cancel", "cancel").map { InlineKeyboardMarkup([[$0]]) }
        // The prompt goes to Claude first; the progress message (paced like every message
        // of the chat) follows on its own and catches up with whatever happened meanwhile.
        let progressReady = Task { await self.openProgressMessage(runID: runID, notice: notice, startedAt: startedAt) }
        active?.drafts = makeDraftStream(draftID: runID)
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                await self?.tick(startedAt: startedAt)
            }
        }

        var outcome = RunOutcome.failed(.stopped)
        var freshNote: String?
        var sessionID = settings.sessionID
        for attempt in 0..<2 {
            let session: ClaudeSession
            let sent: Result<AsyncStream<RunEvent>, ClaudeError>
            if attempt == 0, let early {
                (session, sent) = (early.session, early.sent)
            } else {
                session = await currentSession()
                sent = await send(prompt, images: images, updateID: updateID, to: session)
            }
            sessionID = session.options.sessionID
            active?.lastEventAt = clock.now
            switch sent {
            case .success(let stream):
                for await event in stream {
                    if case .finished(let finished) = event {
                        outcome = finished
                        break
                    }
                    await apply(event, startedAt: startedAt)
                }
            case .failure(let error):
                outcome = .failed(error)
            }
            // A session the CLI no longer has: start afresh once, and say so.
            if attempt == 0, case .sessionNotFound = failure(of: outcome)?.kind, active?.cancelRequested == false {
                runLogger.notice("session not found; starting a fresh one")
                await startFreshSession()
                freshNote = "The earlier session could not be resumed, so this answer starts a fresh one."
                active?.progress = RunProgress(project: settings.project)
                continue
            }
            // A session a stopped process had started after all: the same session again, resumed.
            if attempt == 0, case .failed(let error) = outcome, error.isSessionInUse, active?.cancelRequested == false {
                runLogger.notice("session already written by an earlier process; resuming it")
                settings.sessionStarted = true
                await saveSettings()
                active?.progress = RunProgress(project: settings.project)
                continue
            }
            break
        }
        ticker.cancel()
        active?.concluding = true
        await progressReady.value
        await context.slots.release()
        // A draft still waiting for its slot would only delay the answer, which replaces it.
        await active?.drafts?.close(wait: false)
        if active?.drafts != nil { await context.outbox.endDraft(chatID: key.chatID, draftID: runID) }
        await broker?.denyAll(reason: "The run is over.")
        await conclude(
            runID: runID, sessionID: sessionID, outcome: outcome, elapsed: clock.now - startedAt, freshNote: freshNote,
            logger: runLogger)
        await runEnded()
    }

    /// Sends the run's progress message (with its Cancel button); the run does without it if
    /// Telegram will not take it.
    private func openProgressMessage(runID: Int64, notice: String?, startedAt: ContinuousClock.Instant) async {
        guard let progressMessage = active?.progressMessage else { return }
        active?.notice = notice
        let first = progressFrame(elapsed: .now - startedAt)
        guard let messageID = await progressMessage.open(first) else { return }
        // Events that came while the message was on its way: shown now (an unchanged frame
        // sends nothing).
        await progressMessage.show(progressFrame(elapsed: .now - startedAt))
        try? await context.runs.setProgressMessage(run: runID, messageID: messageID)
    }

    /// Waits for one of the MAX_CONCURRENT_RUNS slots, telling the user when it has to wait.
    private func takeSlot() async -> Bool {
        if await context.slots.tryAcquire() { return true }
        active?.waitingForSlot = true
        let ahead = await context.slots.queueLength
        let notice = try? await context.outbox.send(SendMessage(
            chatID: key.chatID, messageThreadID: key.threadID,
            text: "🕒 Queued: Claude is busy in other chats (\(ahead) waiting before this). It starts as soon as a slot is free."))
        let acquired = await context.slots.acquire()
        active?.waitingForSlot = false
        if let notice { try? await context.outbox.delete(DeleteMessage(chatID: key.chatID, messageID: notice.messageID)) }
        return acquired
    }

    private var editInterval: Duration {
        isPrivate ? context.settings.progressInterval : context.settings.progressInterval * 3
    }

    /// Private chats stream the partial answer as a draft; elsewhere it shows in the progress message.
    private func makeDraftStream(draftID: Int64) -> Throttled<String>? {
        guard isPrivate, key.chatID > 0, context.features.draftsAvailable else { return nil }
        let outbox = context.outbox, features = context.features, key = key, logger = logger
        return Throttled(interval: editInterval) { [weak self] text in
            guard features.draftsAvailable else { return }
            do {
                try await outbox.draft(SendMessageDraft(
                    chatID: key.chatID, messageThreadID: key.threadID, draftID: draftID, text: text, parseMode: .html, canStop: true))
                await self?.noteDraftShown()
            } catch let error as TelegramError where error.isUnsupportedMethod {
                logger.notice("drafts are not available from this Bot API server; partial text goes in the progress message")
                features.disableDrafts()
            } catch {
                logger.debug("draft not sent", metadata: ["error": "\(error)"])
            }
        }
    }

    private var showsPartialTextInProgress: Bool { active?.drafts == nil || !context.features.draftsAvailable }

    private func apply(_ event: RunEvent, startedAt: ContinuousClock.Instant) async {
        active?.lastEventAt = .now
        active?.silenceNoticeSent = false
        if case .initialized = event, !settings.sessionStarted {
            settings.sessionStarted = true
            await saveSettings()
        }
        active?.progress.apply(event)
        if case .initialized(let initialization) = event, let model = initialization.model { reportedModel = model }
        let elapsed = ContinuousClock.now - startedAt
        // A tool that finished is news the user waits for; streamed text can wait its turn.
        let finishedTool = if case .toolResults = event { true } else { false }
        await active?.progressMessage?.show(progressFrame(elapsed: elapsed), urgent: finishedTool)
        if case .textDelta = event, let drafts = active?.drafts, context.features.draftsAvailable,
            let text = active?.progress.partialText.trimmingWhitespace(), !text.isEmpty
        {
            // The newest part of the answer, formatted as it will be (the renderer closes what
            // the partial Markdown leaves open, so the HTML is always balanced).
            await drafts.offer(TelegramHTML.render(markdown: ProgressRenderer.tail(text, 3000)))
        }
    }

    /// Once a second: keep the elapsed time fresh (every 5 s) and notice a run gone quiet.
    private func tick(startedAt: ContinuousClock.Instant) async {
        guard let run = active else { return }
        let now = ContinuousClock.now
        let bucket = Int((now - startedAt).components.seconds / 5)
        if bucket != run.elapsedBucket {
            active?.elapsedBucket = bucket
            await run.progressMessage?.show(progressFrame(elapsed: now - startedAt))
        }
        let quiet = now - run.lastEventAt
        let waiting = await broker?.waiting ?? 0
        if quiet >= context.settings.silenceNotice, !run.silenceNoticeSent, waiting == 0 {
            active?.silenceNoticeSent = true
            let markup = await button("⏹ Cancel", "cancel").map { InlineKeyboardMarkup([[$0]]) }
            await reply("⌛ Still working, but no output for \(ProgressRenderer.format(elapsed: quiet)). Cancel if it looks stuck.", markup: markup)
        }
    }

    func renderProgress(elapsed: Duration) -> String {
        let progress = active?.progress ?? RunProgress(project: settings.project)
        var html = ProgressRenderer.progress(
            progress, elapsed: elapsed, showPartialText: showsPartialTextInProgress)
        if active?.cancelRequested == true {
            html += "\n\n⏹ <b>Stopping Claude…</b>"
        } else if let notice = active?.notice {
            html += "\n\n" + TelegramHTML.escape(notice)
        }
        return html
    }

    /// The progress message as it should look now: the Cancel button goes once a cancel is asked.
    func progressFrame(elapsed: Duration) -> ProgressFrame {
        ProgressFrame(html: renderProgress(elapsed: elapsed), markup: active?.cancelRequested == true ? nil : active?.cancelMarkup)
    }

    func approvalsChanged(_ waiting: Int) async {
        guard let run = active else { return }
        active?.progress.setWaitingForApproval(waiting)
        // A decision the user just made shows at once, not at the next tick.
        await run.progressMessage?.show(progressFrame(elapsed: .now - run.startedAt), urgent: true)
    }

    private func noteDraftShown() {
        active?.draftShown = true
    }

    func failure(of outcome: RunOutcome) -> RunFailure? {
        switch outcome {
        case .result(let result): return RunFailure.from(result: result)
        case .failed(let error): return RunFailure.from(error: error)
        }
    }

    /// The run's end, stored with the run's outcome before anything is sent (a crash from
    /// here on still delivers it, see DurableOutbox): the answer in place of the progress
    /// message when it is short, else the end-of-run card there and the answer after it; a
    /// failure or a cancel is the card alone.
    private func conclude(
        runID: Int64, sessionID: String, outcome: RunOutcome, elapsed: Duration, freshNote: String?, logger: Logger
    ) async {
        let progress = active?.progress ?? RunProgress(project: settings.project)
        let cancelled = active?.cancelRequested ?? false
        let progressMessageID = await active?.progressMessage?.close()
        if context.shutdown.isShuttingDown, case .failed = outcome {
            // Claude was stopped because the bot is stopping: not a failure of the run. It stays
            // "running", and the next start reports it as interrupted, with a Resume button.
            logger.notice("run cut off by the shutdown; reported after the restart")
            return
        }
        let result: ResultMessage? = if case .result(let result) = outcome { result } else { nil }
        let failure = cancelled ? nil : failure(of: outcome)
        let cost = result.map { costOfRun(total: $0.totalCostUSD, session: sessionID) } ?? 0
        let title: String
        let kind: RunOutcomeKind
        if cancelled {
            (title, kind) = ("⏹ <b>Cancelled</b>", .cancelled)
        } else if let failure {
            (title, kind) = ("❌ <b>Failed</b>: " + TelegramHTML.escape(failure.message), .failed)
        } else {
            (title, kind) = ("✅ <b>Done</b>", .completed)
        }
        let summary = ProgressRenderer.Summary(
            outcome: title, elapsed: elapsed, costUSD: result == nil ? nil : cost, model: progress.model ?? settings.model,
            mode: settings.permissionMode.rawValue, sessionID: sessionID, project: settings.project)
        let card = ProgressRenderer.card(progress, summary)

        let parts: [OutgoingPart]
        if cancelled || failure != nil {
            let note = freshNote.map { "ℹ️ " + TelegramHTML.escape($0) + "\n\n" } ?? ""
            parts = [.text(html: note + card, replaces: progressMessageID, buttons: await failureButtons(failure, runID: runID))]
        } else {
            let answer = result?.result.flatMap { $0.trimmingWhitespace().isEmpty ? nil : $0 } ?? progress.lastText
            // A streamed draft goes away only when a message is sent: the answer is then a new
            // message, and the progress message is removed after it.
            let draftShown = active?.draftShown ?? false
            let plan = AnswerPlan(formatter: AnswerFormatter(maxMessages: context.settings.maxAnswerMessages))
            var planned = plan.parts(
                markdown: answer, progressMessageID: draftShown ? nil : progressMessageID, card: card,
                footer: ProgressRenderer.footer(progress, summary), note: freshNote, buttons: await answerButtons(progress))
            if draftShown, let progressMessageID {
                if planned.count == 1 {
                    planned.append(.delete(progressMessageID))
                } else {
                    planned[0].replaces = progressMessageID
                }
            }
            parts = planned
        }
        let completion = RunCompletion(
            outcome: kind, costUSD: cost, inputTokens: result?.usage.inputTokens ?? 0, outputTokens: result?.usage.outputTokens ?? 0,
            turns: result?.numTurns ?? 0, error: failure?.message)
        logger.info("run finished", metadata: ["outcome": "\(kind.rawValue)", "seconds": "\(elapsed.components.seconds)"])
        markOutcome(kind)
        await finish(runID: runID, sessionID: sessionID, completion: completion, outgoing: parts)
    }

    /// Under a failure: try again, or continue once a usage limit resets.
    private func failureButtons(_ failure: RunFailure?, runID: Int64) async -> InlineKeyboardMarkup? {
        guard let failure else { return nil }
        if case .usageLimit(let resets?) = failure.kind, let button = await button("⏰ Continue at \(RunFailure.clock(resets)) UTC", "at:\(resets)") {
            return InlineKeyboardMarkup([[button]])
        }
        if failure.kind != .binaryMissing && failure.kind != .notLoggedIn, let retry = await button("🔁 Try again", "retry:\(runID)") {
            return InlineKeyboardMarkup([[retry]])
        }
        return nil
    }

    /// Under an answer: go on, start afresh, get the files Claude made, and see, commit or
    /// throw away what it changed.
    private func answerButtons(_ progress: RunProgress) async -> InlineKeyboardMarkup? {
        var row: [InlineKeyboardButton] = []
        if let next = await button("➡️ Continue", "continue") { row.append(next) }
        if let fresh = await button("🆕 New session", "new") { row.append(fresh) }
        var rows = [row]
        // Files Claude wrote that the user likely wants on the phone: a button each.
        let wanted = [".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".pdf", ".csv", ".html", ".zip", ".xlsx", ".docx"]
        var fileRow: [InlineKeyboardButton] = []
        for change in progress.changedFiles where wanted.contains(where: { change.path.lowercased().hasSuffix($0) }) && fileRow.count < 3 {
            let name = String(change.path.split(separator: "/").last ?? "file")
            if let send = await button("📎 " + ToolActivity.shorten(name, to: 24), "get:" + change.path) { fileRow.append(send) }
        }
        if !fileRow.isEmpty { rows.append(fileRow) }
        // Files changed in a repository: see them, commit them or throw them away.
        if !progress.changedFiles.isEmpty, await gitStatusLines() != nil {
            let gitRow = [await button("🔍 Show diff", "git:diff"), await button("✅ Commit", "git:commit-ask"), await button("🗑 Discard", "git:discard")]
            rows.append(gitRow.compactMap { $0 })
        }
        let kept = rows.filter { !$0.isEmpty }
        return kept.isEmpty ? nil : InlineKeyboardMarkup(kept)
    }

    /// The 👀 on the prompt becomes the outcome. Telegram allows reactions from a fixed list
    /// only (no ✅ or ❌): 👍 done, 👎 failed, 🕊 cancelled.
    private func markOutcome(_ kind: RunOutcomeKind) {
        guard let messageID = active?.promptMessageID, messageID != 0, context.features.reactionsAvailable(in: key.chatID) else { return }
        let emoji = switch kind {
        case .completed: "👍"
        case .cancelled: "🕊"
        default: "👎"
        }
        let outbox = context.outbox, key = key
        Task { await outbox.react(SetMessageReaction(chatID: key.chatID, messageID: messageID, emoji: emoji)) }
    }

    /// The CLI reports the session's running total; a run costs the difference.
    private func costOfRun(total: Double, session: String) -> Double {
        let previous = costBaselines[session] ?? 0
        costBaselines[session] = total
        return total >= previous ? total - previous : total
    }

    /// Records the run's end together with what tells the chat about it, then sends that.
    private func finish(runID: Int64, sessionID: String, completion: RunCompletion, outgoing: [OutgoingPart]) async {
        context.metrics.runFinished(completion.outcome.rawValue)
        do {
            let records = try await context.runs.finish(run: runID, sessionID: sessionID, completion, outgoing: outgoing, to: key)
            await context.delivery.deliver(records)
        } catch {
            logger.error("could not record the end of a run; what tells it is sent unrecorded", metadata: ["error": "\(error)"])
            await context.delivery.storeAndDeliver(outgoing, to: key, runID: runID)
        }
    }

    /// The run is over: the next queued prompt (if any) starts.
    private func runEnded() async {
        active = nil
        await startQueued()
    }

    // MARK: Cancel

    /// Stops the run: open approvals denied, the CLI and its tools stopped (process group
    /// gone within a few seconds). Returns false when nothing was running.
    @discardableResult
    func cancelRun() async -> Bool {
        guard let run = active, !run.cancelRequested else { return false }
        active?.cancelRequested = true
        if run.waitingForSlot {
            run.task?.cancel()
            return true
        }
        // The progress message says so at once, and ends as the Cancelled card: one message.
        await run.progressMessage?.show(progressFrame(elapsed: .now - run.startedAt), urgent: true)
        await broker?.denyAll(reason: "Cancelled by the user.")
        await session?.stop()
        return true
    }
}
