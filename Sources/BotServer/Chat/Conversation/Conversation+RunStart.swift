import ClaudeRunner
import Logging

/// How a prompt becomes a run: recorded, and sent to Claude meanwhile when a slot is free.
/// The run itself (progress, answer, end) is in Conversation+Run.swift.
extension Conversation {
    /// Records the run (so a crash from here on is reported as an interrupted run), sends the
    /// prompt to Claude meanwhile when a slot is free, and goes on with the run as a task of
    /// its own.
    func startRun(
        prompt: String, updateID: Int64?, requester: Int64, images: [JSONValue] = [], notice: String? = nil, promptMessageID: Int64 = 0
    ) async throws {
        await waitForConcludingRun()
        // Claimed before the next await: the actor takes other calls while this one waits,
        // and one of them must not start a second run meanwhile. It queues instead.
        guard active == nil else {
            let queued = try await context.conversations.enqueue(prompt, messageID: 0, userID: requester, of: key)
            await showQueuedNotice(queued)
            return
        }
        active = ActiveRun(id: 0, prompt: prompt, startedAt: .now, requesterID: requester)
        active?.promptMessageID = promptMessageID
        // Neither waits for the other: the row is queued for the writer, and the prompt is in
        // Claude's stdin before the writer has woken up. A crash before the row commits leaves
        // the update unhandled, so it is delivered again and, finding no run, run again.
        let recording = context.runs.beginning(
            conversation: key, sessionID: settings.sessionID, project: settings.project, prompt: prompt, updateID: updateID,
            userID: requester)
        let early = await sendIfSlotFree(prompt: prompt, updateID: updateID, images: images)
        let runID: Int64
        do {
            runID = try await recording.value
        } catch {
            if let early { await abandonUnrecorded(early, error) }
            active = nil
            await reply(
                "⚠️ Nothing was run: the bot could not record the run in its database (\(TelegramHTML.escape("\(error)"))). "
                    + "Send it again; if this keeps happening, the bot's disk needs a look.")
            throw error
        }
        active?.id = runID
        active?.task = Task {
            await self.execute(runID: runID, updateID: updateID, prompt: prompt, images: images, notice: notice, early: early)
        }
    }

    /// A prompt that went to Claude before its run was recorded.
    struct EarlyStart: Sendable {
        let session: ClaudeSession
        let sent: Result<AsyncStream<RunEvent>, ClaudeError>
    }

    /// Sends the prompt now if one of the MAX_CONCURRENT_RUNS slots is free (it is then held
    /// by the run); nil if the run has to wait its turn, which `execute` does.
    private func sendIfSlotFree(prompt: String, updateID: Int64?, images: [JSONValue]) async -> EarlyStart? {
        guard await context.slots.tryAcquire() else { return nil }
        let session = await currentSession()
        return EarlyStart(session: session, sent: await send(prompt, images: images, updateID: updateID, to: session))
    }

    /// Writes the prompt to the session's CLI (in its stdin pipe when this returns) and times
    /// it from the update's receipt; the run's events, or why the session would not take it.
    func send(
        _ prompt: String, images: [JSONValue], updateID: Int64?, to session: ClaudeSession
    ) async -> Result<AsyncStream<RunEvent>, ClaudeError> {
        // Photos go as image blocks after the text.
        let content: UserContent = images.isEmpty ? .text(prompt) : .blocks([UserContent.textBlock(prompt)] + images)
        let latency = context.metrics.latency
        do throws(ClaudeError) {
            return .success(try await session.send(content) { written in
                if let updateID { latency.promptWritten(for: updateID, at: written.at, startedProcess: written.startedProcess) }
            })
        } catch {
            return .failure(error)
        }
    }

    /// The run could not be recorded (the database refused it): a run nobody could report
    /// after a crash, or mark as finished, must not go on. Claude is stopped and the slot freed;
    /// the caller tells the user and rethrows, which sets the update aside as failed.
    private func abandonUnrecorded(_ early: EarlyStart, _ error: any Error) async {
        logger.error("the run could not be recorded; its prompt is withdrawn from Claude", metadata: ["error": "\(error)"])
        await early.session.stop()
        if case .success(let stream) = early.sent { for await _ in stream {} }
        await context.slots.release()
    }
}
