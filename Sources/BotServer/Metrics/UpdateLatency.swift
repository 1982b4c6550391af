import CoreMetrics
import Synchronization

/// Times an update from its receipt (the webhook request read, or the getUpdates answer) to
/// the two moments the user's prompt depends on: the typing action issued to Telegram, and
/// the prompt in Claude's stdin pipe. Each is recorded once per update.
///
/// Receipts are kept by update id until both are recorded. Most updates never become a
/// prompt (commands, refusals, button taps): receipts are let go, oldest first, once older
/// than `retention` or beyond `capacity`, at a constant cost per receipt. (Pruning by age
/// alone, by filtering the whole map, went quadratic under a flood of updates that were all
/// younger than the retention: 2.4 ms of CPU per webhook request at 100k receipts.)
final class UpdateLatency: Sendable {
    private struct Receipt {
        let at: ContinuousClock.Instant
        var typingRecorded = false
        var promptRecorded = false
    }

    /// The receipts, and their ids in arrival order for eviction. An id whose receipt was
    /// taken stays in `order` until it reaches the head; `byUpdate` decides what is live.
    private struct Receipts {
        var byUpdate: [Int64: Receipt] = [:]
        var order: [(updateID: Int64, at: ContinuousClock.Instant)] = []
        var head = 0

        mutating func add(_ updateID: Int64, at instant: ContinuousClock.Instant, retention: Duration, capacity: Int) {
            // A redelivery of an update still in flight keeps the first receipt.
            guard byUpdate[updateID] == nil else { return }
            byUpdate[updateID] = Receipt(at: instant)
            order.append((updateID, instant))
            let cutoff = instant - retention
            while head < order.count, byUpdate.count > capacity || order[head].at < cutoff || !isLive(order[head]) {
                let oldest = order[head]
                if isLive(oldest) { byUpdate.removeValue(forKey: oldest.updateID) }
                head += 1
            }
            // Compacted when half is spent, and rid of taken ids when they outnumber the live
            // ones (a young receipt at the head holds them back otherwise). Both are linear but
            // come only after as many cheap additions, so the cost per receipt stays constant.
            if head > 64 && head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
            if order.count - head > 2 * max(capacity, byUpdate.count) {
                let snapshot = byUpdate
                order = order[head...].filter { snapshot[$0.updateID]?.at == $0.at }
                head = 0
            }
        }

        /// Whether `entry` is still the receipt kept for its id (not taken, not re-added later).
        private func isLive(_ entry: (updateID: Int64, at: ContinuousClock.Instant)) -> Bool {
            byUpdate[entry.updateID]?.at == entry.at
        }
    }

    private let toTyping: Timer
    private let toPromptWritten: Timer
    private let toPromptWrittenStartingProcess: Timer
    private let receipts = Mutex(Receipts())
    private let retention: Duration
    private let capacity: Int

    /// `toPromptWritten` times prompts that went to a running CLI, `toPromptWrittenStartingProcess`
    /// those that waited for one to be spawned (apart, since the spawn dominates those).
    init(
        toTyping: Timer, toPromptWritten: Timer, toPromptWrittenStartingProcess: Timer? = nil,
        retention: Duration = .seconds(600), capacity: Int = 4096
    ) {
        self.toTyping = toTyping
        self.toPromptWritten = toPromptWritten
        self.toPromptWrittenStartingProcess = toPromptWrittenStartingProcess ?? toPromptWritten
        self.retention = retention
        self.capacity = max(1, capacity)
    }

    func received(_ updateID: Int64, at instant: ContinuousClock.Instant = .now) {
        receipts.withLock { $0.add(updateID, at: instant, retention: retention, capacity: capacity) }
    }

    /// The typing action is issued from a task of its own, so under load it can come after
    /// the prompt was written: a receipt is let go once both are recorded, whichever is last.
    func typingIssued(for updateID: Int64, at instant: ContinuousClock.Instant = .now) {
        if let received = take(updateID, \.typingRecorded) { toTyping.recordNanoseconds(Self.nanoseconds(instant - received)) }
    }

    func promptWritten(for updateID: Int64, at instant: ContinuousClock.Instant, startedProcess: Bool = false) {
        guard let received = take(updateID, \.promptRecorded) else { return }
        (startedProcess ? toPromptWrittenStartingProcess : toPromptWritten).recordNanoseconds(Self.nanoseconds(instant - received))
    }

    /// The receipt's instant if `stop` was not recorded yet (and marks it recorded).
    private func take(_ updateID: Int64, _ stop: WritableKeyPath<Receipt, Bool>) -> ContinuousClock.Instant? {
        receipts.withLock { receipts in
            guard var receipt = receipts.byUpdate[updateID], !receipt[keyPath: stop] else { return nil }
            receipt[keyPath: stop] = true
            receipts.byUpdate[updateID] = receipt.typingRecorded && receipt.promptRecorded ? nil : receipt
            return receipt.at
        }
    }

    /// Receipts waiting for their prompt (tests).
    var pending: Int { receipts.withLock { $0.byUpdate.count } }

    /// Ids kept for eviction, taken receipts included (tests: the bookkeeping stays bounded).
    var tracked: Int { receipts.withLock { $0.order.count - $0.head } }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
