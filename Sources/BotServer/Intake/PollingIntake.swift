import ClaudeRunner
import FoundationEssentials
import Logging
import ServiceLifecycle

/// Long polling (`UPDATE_MODE=polling`): the other way in, for a machine without a public
/// URL. It feeds the same inbox and dispatcher as the webhook, with the same guarantee:
/// a batch is confirmed to Telegram (by the next poll's offset) only after it is committed
/// together with that offset, so a crash at any point loses nothing and stores nothing twice.
struct PollingIntake: Service {
    let api: TelegramBotAPI
    let store: InboxStore
    let state: BotStateStore
    let dispatcher: Dispatcher
    let metrics: BotMetrics
    let logger: Logger
    /// Seconds Telegram holds a poll open when there is nothing to deliver.
    var pollTimeout = 30
    var maxBackoff: Duration = .seconds(60)

    func run() async throws {
        // A long poll in flight is cancelled at shutdown, not waited for.
        await cancelWhenGracefulShutdown {
            await poll()
        }
    }

    private func poll() async {
        var offset: Int64? = nil
        do {
            offset = try await state.value(.pollingOffset).flatMap { Int64($0) }
        } catch {
            logger.error("cannot read the polling offset; starting from Telegram's oldest update", metadata: ["error": "\(error)"])
        }
        logger.info("polling for updates", metadata: ["offset": "\(offset.map(String.init) ?? "none")"])
        var failures = 0
        while !Task.isCancelled {
            do {
                let batch = try await api.getUpdates(
                    GetUpdates(offset: offset, limit: 100, timeout: pollTimeout, allowedUpdates: Update.handledKinds))
                failures = 0
                if let next = try await store(batch, receivedAt: .now) { offset = next }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                report(error, failures: failures)
                try? await Task.sleep(for: backoff(failures, error))
            }
        }
    }

    /// Stores a batch with the offset that confirms it; returns that offset (nil for an empty batch).
    private func store(_ batch: [JSONValue], receivedAt instant: ContinuousClock.Instant) async throws -> Int64? {
        var entries: [InboxEntry] = []
        var rejected: [(payload: [UInt8], reason: String)] = []
        var highest: Int64?
        let receivedAt = UnixTime.nowMillis()
        for element in batch {
            let body = Array(try JSONEncoder().encode(element))
            if case .object(let fields) = element, case .number(let number)? = fields["update_id"],
                let id = Int64(exactly: number)
            {
                highest = max(highest ?? id, id)
            }
            switch UpdateClassification(body: body) {
            case .update(let envelope):
                entries.append(
                    InboxEntry(
                        updateID: envelope.updateID, kind: envelope.kind, conversation: envelope.conversation,
                        payload: body, receivedAt: receivedAt))
            case .notAnUpdate(let reason), .malformed(let reason):
                logger.warning("polled element is not an update; kept as rejected", metadata: ["reason": "\(reason)"])
                rejected.append((body, reason))
            }
        }
        guard let highest else {
            if !rejected.isEmpty {
                // Without an update_id nothing can be confirmed; keep the evidence, poll on.
                _ = try await store.storePolled([], rejected: rejected, nextOffset: nil)
            }
            return nil
        }
        let stored = try await store.storePolled(entries, rejected: rejected, nextOffset: highest + 1)
        for entry in stored {
            metrics.latency.received(entry.updateID, at: instant)
            dispatcher.submit(InboxRecord(pending: entry))
        }
        return highest + 1
    }

    private func report(_ error: any Error, failures: Int) {
        if let telegram = error as? TelegramError, case .api(409, let description, _, _) = telegram {
            logger.error(
                "Telegram refuses to poll: \(description). If a webhook is set, run `botserver webhook delete`; otherwise stop the other instance polling with this token.",
                metadata: ["attempt": "\(failures)"])
        } else if let telegram = error as? TelegramError, case .api(401, _, _, _) = telegram {
            logger.error("Telegram rejects the bot token (401); check TELEGRAM_BOT_TOKEN", metadata: ["attempt": "\(failures)"])
        } else {
            logger.warning("polling failed; retrying", metadata: ["attempt": "\(failures)", "error": "\(error)"])
        }
    }

    /// Exponential with jitter; honours retry_after.
    private func backoff(_ failures: Int, _ error: any Error) -> Duration {
        if let retryAfter = (error as? TelegramError)?.retryAfter { return .seconds(retryAfter) }
        let exponential = Duration.milliseconds(500) * (1 << min(failures - 1, 10))
        return min(exponential, maxBackoff) * Double.random(in: 0.5..<1.5)
    }
}
