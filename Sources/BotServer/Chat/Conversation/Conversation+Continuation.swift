/// "Continue at": a run stopped by a usage limit that said when it resets goes on by itself
/// then, as a prompt from whoever tapped the button. Kept in ContinuationStore, so a restart
/// before then does not lose it; /cancel calls it off.
extension Conversation {
    func scheduleContinuation(resetAt epoch: Int64, by userID: Int64) async {
        let dueAt = epoch * 1000 + Int64(context.settings.continueAfterReset.components.seconds) * 1000
        do {
            try await context.continuations.schedule(ScheduledContinuation(conversation: key, dueAt: dueAt, userID: userID))
        } catch {
            logger.error("could not keep the continuation", metadata: ["error": "\(error)"])
            await reply("⚠️ I could not schedule that: the bot could not record it. Send “Continue” yourself after \(RunFailure.clock(epoch)) UTC.")
            return
        }
        arm(dueAt: dueAt, userID: userID)
        await reply("⏰ I'll continue at \(Self.clock(millis: dueAt)) UTC. /cancel calls it off.")
    }

    /// After a restart: the timer again, or at once if it came due while the bot was down.
    func restore(_ continuation: ScheduledContinuation) {
        arm(dueAt: continuation.dueAt, userID: continuation.userID)
    }

    /// Calls the continuation off; its due time (unix ms) when there was one.
    func callOffContinuation() async -> Int64? {
        guard let (dueAt, timer) = scheduledContinuation else { return nil }
        timer.cancel()
        scheduledContinuation = nil
        do {
            _ = try await context.continuations.cancel(key)
        } catch {
            // Called off until a restart, which would arm it again from the row.
            logger.error("could not delete the called-off continuation", metadata: ["error": "\(error)"])
        }
        return dueAt
    }

    static func clock(millis: Int64) -> String { RunFailure.clock((millis + 999) / 1000) }

    private func arm(dueAt: Int64, userID: Int64) {
        scheduledContinuation?.timer.cancel()
        let delay = max(0, dueAt - UnixTime.nowMillis())
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled, let self else { return }
            await self.continueAsScheduled(dueAt: dueAt, userID: userID)
        }
        scheduledContinuation = (dueAt, timer)
    }

    private func continueAsScheduled(dueAt: Int64, userID: Int64) async {
        guard scheduledContinuation?.dueAt == dueAt else { return }
        // Taken from the store first: a call-off or a moved time that won the race stops it.
        do {
            guard try await context.continuations.take(key, dueAt: dueAt) else { return }
        } catch {
            logger.error("could not take the scheduled continuation; it runs after a restart", metadata: ["error": "\(error)"])
            return
        }
        // Called off or moved while the row was being taken: that wins too.
        guard scheduledContinuation?.dueAt == dueAt else { return }
        scheduledContinuation = nil
        do {
            try await prompt("Continue where you left off.", messageID: 0, updateID: nil, isForward: false, from: userID)
        } catch {
            logger.error("the scheduled continuation did not start", metadata: ["error": "\(error)"])
            await reply("⚠️ The scheduled continuation could not start: \(TelegramHTML.escape("\(error)"))")
        }
    }
}
