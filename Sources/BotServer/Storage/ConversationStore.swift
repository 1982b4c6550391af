import Synchronization
import ClaudeRunner

/// What a conversation remembers between prompts and restarts.
struct ConversationSettings: Sendable, Equatable {
    var project: String
    var sessionID: String
    /// The session's transcript exists: the next process resumes it.
    var sessionStarted: Bool
    var permissionMode: PermissionMode
    var model: String?
}

/// A prompt waiting its turn in a conversation.
struct QueuedPrompt: Sendable, Equatable {
    var text: String
    var messageID: Int64
    /// Who sent its first part (they answer its run's approvals).
    var userID: Int64
    var noticeID: Int64?
    var createdAt: Int64
}

/// Table `conversations` and `queued_prompts`.
struct ConversationStore: Sendable {
    let database: Database
    /// Conversations known to have nothing queued, so that the end of every run (which looks
    /// for a queued prompt) costs no write when there is none, as is usual.
    private let knownEmpty = KnownEmptyQueues()

    /// Inline when the reader is idle: a conversation's first prompt waits for this.
    func settings(of key: ConversationKey) async throws -> ConversationSettings? {
        try await database.reader.read(inlineWhenIdle: true) { connection in
            try connection.prepare(
                """
                SELECT project, session_id, session_started, permission_mode, model
                FROM conversations WHERE chat_id = ? AND thread_id = ?
                """
            ).queryFirst(key.chatID, key.threadKey) { row in
                ConversationSettings(
                    project: row.string(0) ?? "", sessionID: row.string(1) ?? "", sessionStarted: row.int(2) != 0,
                    permissionMode: PermissionMode(rawValue: row.string(3) ?? "") ?? .default, model: row.string(4))
            }
        }
    }

    func save(_ settings: ConversationSettings, of key: ConversationKey) async throws {
        try await database.writer.write { connection in
            try connection.run(
                """
                INSERT INTO conversations (chat_id, thread_id, project, session_id, session_started, permission_mode, model, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, thread_id) DO UPDATE SET
                    project = excluded.project, session_id = excluded.session_id,
                    session_started = excluded.session_started, permission_mode = excluded.permission_mode,
                    model = excluded.model, updated_at = excluded.updated_at
                """,
                key.chatID, key.threadKey, settings.project, settings.sessionID, settings.sessionStarted ? 1 : 0,
                settings.permissionMode.rawValue, settings.model, UnixTime.nowMillis())
        }
    }

    // MARK: Queued prompts

    func queued(of key: ConversationKey) async throws -> QueuedPrompt? {
        try await database.reader.read { connection in
            try Self.queued(of: key, in: connection)
        }
    }

    /// Adds `text` to the conversation's queued prompt (a new paragraph), or queues it.
    /// Returns the prompt as it now stands.
    func enqueue(_ text: String, messageID: Int64, userID: Int64, of key: ConversationKey) async throws -> QueuedPrompt {
        knownEmpty.queueing(key)
        return try await database.writer.write { connection in
            let now = UnixTime.nowMillis()
            try connection.run(
                """
                INSERT INTO queued_prompts (chat_id, thread_id, text, message_id, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, thread_id) DO UPDATE SET text = queued_prompts.text || char(10) || char(10) || excluded.text
                """,
                key.chatID, key.threadKey, text, messageID, userID, now)
            return try Self.queued(of: key, in: connection) ?? QueuedPrompt(text: text, messageID: messageID, userID: userID, noticeID: nil, createdAt: now)
        }
    }

    func setQueuedNotice(_ noticeID: Int64, of key: ConversationKey) async throws {
        try await database.writer.write { connection in
            try connection.run(
                "UPDATE queued_prompts SET notice_id = ? WHERE chat_id = ? AND thread_id = ?", noticeID, key.chatID, key.threadKey)
        }
    }

    /// Removes and returns the queued prompt.
    func takeQueued(of key: ConversationKey) async throws -> QueuedPrompt? {
        guard let generation = knownEmpty.lookingUp(key) else { return nil }
        let prompt = try await database.writer.write { connection in
            let prompt = try Self.queued(of: key, in: connection)
            try connection.run("DELETE FROM queued_prompts WHERE chat_id = ? AND thread_id = ?", key.chatID, key.threadKey)
            return prompt
        }
        knownEmpty.taken(key, since: generation)
        return prompt
    }

    /// Conversations with a prompt still queued (after a restart they start it).
    func conversationsWithQueuedPrompts() async throws -> [ConversationKey] {
        try await database.reader.read { connection in
            try connection.prepare("SELECT chat_id, thread_id FROM queued_prompts ORDER BY created_at").query { row in
                ConversationKey(chatID: row.int64(0), threadKey: row.int64(1))
            }
        }
    }
}

extension ConversationStore {
    fileprivate static func queued(of key: ConversationKey, in connection: SQLiteConnection) throws -> QueuedPrompt? {
        try connection.prepare(
            "SELECT text, message_id, notice_id, created_at, user_id FROM queued_prompts WHERE chat_id = ? AND thread_id = ?"
        ).queryFirst(key.chatID, key.threadKey) { row in
            QueuedPrompt(text: row.string(0) ?? "", messageID: row.int64(1), userID: row.int64(4), noticeID: row.optionalInt64(2), createdAt: row.int64(3))
        }
    }
}

extension ConversationKey {
    /// The key's thread as stored: 0 for a chat without topics.
    var threadKey: Int64 { threadID ?? 0 }

    init(chatID: Int64, threadKey: Int64) {
        self.init(chatID: chatID, threadID: threadKey == 0 ? nil : threadKey)
    }
}

/// Which conversations have an empty queue for certain. Nothing is known at start (a queue
/// may have survived a restart); a take that finds nothing makes it known, unless a prompt
/// was queued since the take began (its write may have committed after the take's).
private final class KnownEmptyQueues: Sendable {
    private struct State {
        var empty: Set<ConversationKey> = []
        var queueings: [ConversationKey: Int] = [:]
    }
    private let state = Mutex(State())

    /// Before a prompt is queued.
    func queueing(_ key: ConversationKey) {
        state.withLock { state in
            state.empty.remove(key)
            state.queueings[key, default: 0] += 1
        }
    }

    /// nil: the queue is known to be empty. Otherwise a mark for `taken`.
    func lookingUp(_ key: ConversationKey) -> Int? {
        state.withLock { state in state.empty.contains(key) ? nil : state.queueings[key, default: 0] }
    }

    /// After a take: its queue is empty now, unless something was queued meanwhile.
    func taken(_ key: ConversationKey, since mark: Int) {
        state.withLock { state in
            if state.queueings[key, default: 0] == mark { state.empty.insert(key) }
        }
    }
}
