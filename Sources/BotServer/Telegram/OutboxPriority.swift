/// Which of a chat's queued requests Telegram gets first. Within a priority, requests keep
/// the order they were queued in.
enum OutboxPriority: Int, Sendable, Comparable {
    /// The progress message's edits and the streamed draft: the newest replaces any waiting
    /// one, and they never take a chat's last free slot, so an answer never waits behind them.
    case background
    /// Answers, cards, replies to commands.
    case normal
    /// What the user is waiting on with a finger on the screen: approval questions and
    /// their closing edits.
    case interactive

    static func < (lhs: OutboxPriority, rhs: OutboxPriority) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What a message shows, as the bot last set it: an edit to the same content is not sent
/// (Telegram would answer "message is not modified", and the call would spend a slot).
struct MessageContent: Sendable, Equatable {
    let text: String
    let parseMode: ParseMode?
    let replyMarkup: InlineKeyboardMarkup?
}

/// The last known content of recently sent or edited messages, bounded: forgetting one only
/// costs a possible "not modified" answer.
struct RecentContents: Sendable {
    private var contents: [MessageKey: MessageContent] = [:]
    private var order: [MessageKey] = []
    private var head = 0
    let capacity: Int

    struct MessageKey: Hashable, Sendable {
        let chatID: Int64
        let messageID: Int64
    }

    init(capacity: Int = 4096) { self.capacity = capacity }

    subscript(chatID: Int64, messageID: Int64) -> MessageContent? {
        contents[MessageKey(chatID: chatID, messageID: messageID)]
    }

    mutating func set(_ content: MessageContent?, chatID: Int64, messageID: Int64) {
        let key = MessageKey(chatID: chatID, messageID: messageID)
        guard let content else {
            contents[key] = nil
            return
        }
        if contents.updateValue(content, forKey: key) == nil { order.append(key) }
        // Oldest first out; the order array is compacted once half of it is stale.
        while contents.count > capacity, head < order.count {
            contents[order[head]] = nil
            head += 1
        }
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
    }
}

/// Messages that got their final content (a foreground edit): a progress edit that arrives
/// after it is stale and is dropped. Bounded like `RecentContents`.
struct SealedMessages: Sendable {
    private var keys: Set<RecentContents.MessageKey> = []
    private var order: [RecentContents.MessageKey] = []
    let capacity: Int

    init(capacity: Int = 4096) { self.capacity = capacity }

    func contains(chatID: Int64, messageID: Int64) -> Bool {
        keys.contains(RecentContents.MessageKey(chatID: chatID, messageID: messageID))
    }

    mutating func seal(chatID: Int64, messageID: Int64) {
        let key = RecentContents.MessageKey(chatID: chatID, messageID: messageID)
        guard keys.insert(key).inserted else { return }
        order.append(key)
        if order.count > capacity {
            let evicted = order.count - capacity
            for old in order.prefix(evicted) { keys.remove(old) }
            order.removeFirst(evicted)
        }
    }
}
