import HTTPCore
import Logging
import Synchronization

/// What every conversation shares: settings, stores, the way out to Telegram, the run cap.
struct ChatContext: Sendable {
    let settings: ChatSettings
    let outbox: TelegramOutbox
    /// For what must not be lost: stored first, sent after a crash if need be.
    let delivery: DurableOutbox
    /// For getFile and downloads (the outbox is for what the bot sends).
    let api: TelegramBotAPI
    /// For the transcription backend.
    let http: HTTPClient
    let conversations: ConversationStore
    let runs: RunStore
    let callbacks: CallbackStore
    let audit: AuditStore
    let permissions: PermissionStore
    let continuations: ContinuationStore
    let slots: RunSlots
    let shutdown: ShutdownState
    /// Claude processes alive between runs: the least recently used beyond MAX_WARM_SESSIONS are stopped.
    let warmSessions: WarmSessionPool
    let identity: BotIdentity
    let features: ChatFeatures
    let metrics: BotMetrics
    let logger: Logger
}

/// Who the bot is: its user id comes from the token; its username from getMe (needed to tell
/// "/cmd@thisbot" from "/cmd@otherbot" and to notice mentions in groups).
final class BotIdentity: Sendable {
    let userID: Int64
    private let name = Mutex<String?>(nil)

    init(token: String) {
        userID = Int64(token.prefix { $0 != ":" }) ?? 0
    }

    var username: String? { name.withLock { $0 } }
    func setUsername(_ value: String?) { name.withLock { $0 = value } }

    /// A command addressed to this bot (or to no bot in particular).
    func isAddressedToMe(_ addressee: String?) -> Bool {
        guard let addressee else { return true }
        guard let username else { return false }
        return addressee.lowercased() == username.lowercased()
    }
}

/// Bot API features found missing at run time (an older or local Bot API server), so they
/// are not tried again on every prompt.
final class ChatFeatures: Sendable {
    private let draftsOff = Mutex(false)
    private let reactionsOff = Mutex<Set<Int64>>([])

    init(drafts: Bool) { draftsOff.withLock { $0 = !drafts } }

    var draftsAvailable: Bool { !draftsOff.withLock { $0 } }
    func disableDrafts() { draftsOff.withLock { $0 = true } }

    func reactionsAvailable(in chatID: Int64) -> Bool { !reactionsOff.withLock { $0.contains(chatID) } }
    func disableReactions(in chatID: Int64) { _ = reactionsOff.withLock { $0.insert(chatID) } }
}

/// Set when the bot begins to stop: runs that end because their Claude was stopped for it
/// are not concluded (as failures) but left to be reported as interrupted after the restart.
final class ShutdownState: Sendable {
    private let flag = Mutex(false)
    var isShuttingDown: Bool { flag.withLock { $0 } }
    func begin() { flag.withLock { $0 = true } }
}
