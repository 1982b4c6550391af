import CoreMetrics
import Synchronization

/// Times an update from its receipt (the webhook request read, or the getUpdates answer) to
/// the two moments the user's prompt depends on: the typing action issued to Telegram, and
/// the prompt in Claude's stdin pipe. Each is recorded once per update.
///
/// Receipts are kept by update id until both are recorded. Updates that never become a
/// prompt (commands, refusals, button taps) are dropped once they are older than `retention`.
final class UpdateLatency: Sendable {
    private struct Receipt {
        let at: ContinuousClock.Instant
        var typingRecorded = false
        var promptRecorded = false
    }

    private let toTyping: Timer
    private let toPromptWritten: Timer
    private let receipts = Mutex<[Int64: Receipt]>([:])
    private let retention: Duration
    private let pruneAbove: Int

    init(toTyping: Timer, toPromptWritten: Timer, retention: Duration = .seconds(600), pruneAbove: Int = 1024) {
        self.toTyping = toTyping
        self.toPromptWritten = toPromptWritten
        self.retention = retention
        self.pruneAbove = pruneAbove
    }

    func received(_ updateID: Int64, at instant: ContinuousClock.Instant = .now) {
        receipts.withLock { receipts in
            // A redelivery of an update still in flight keeps the first receipt.
            if receipts[updateID] == nil { receipts[updateID] = Receipt(at: instant) }
            if receipts.count > pruneAbove {
                let cutoff = instant - retention
                receipts = receipts.filter { $0.value.at >= cutoff }
            }
        }
    }

    /// The typing action is issued from a task of its own, so under load it can come after
    /// the prompt was written: a receipt is let go once both are recorded, whichever is last.
    func typingIssued(for updateID: Int64, at instant: ContinuousClock.Instant = .now) {
        if let received = take(updateID, \.typingRecorded) { toTyping.recordNanoseconds(Self.nanoseconds(instant - received)) }
    }

    func promptWritten(for updateID: Int64, at instant: ContinuousClock.Instant) {
        if let received = take(updateID, \.promptRecorded) { toPromptWritten.recordNanoseconds(Self.nanoseconds(instant - received)) }
    }

    /// The receipt's instant if `stop` was not recorded yet (and marks it recorded).
    private func take(_ updateID: Int64, _ stop: WritableKeyPath<Receipt, Bool>) -> ContinuousClock.Instant? {
        receipts.withLock { receipts in
            guard var receipt = receipts[updateID], !receipt[keyPath: stop] else { return nil }
            receipt[keyPath: stop] = true
            receipts[updateID] = receipt.typingRecorded && receipt.promptRecorded ? nil : receipt
            return receipt.at
        }
    }

    /// Receipts waiting for their prompt (tests).
    var pending: Int { receipts.withLock { $0.count } }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
