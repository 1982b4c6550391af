/// A conversation a usage limit stopped, to go on by itself at `dueAt` (unix ms) with a
/// prompt from `userID`, who asked for it.
struct ScheduledContinuation: Sendable, Equatable {
    var conversation: ConversationKey
    var dueAt: Int64
    var userID: Int64
}

/// Table `scheduled_continuations`: "Continue at" outlives a restart. One per conversation;
/// scheduling again moves it.
struct ContinuationStore: Sendable {
    let database: Database

    func schedule(_ continuation: ScheduledContinuation) async throws {
        try await database.writer.write { connection in
            try connection.run(
                """
                INSERT INTO scheduled_continuations (chat_id, thread_id, due_at, user_id, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, thread_id) DO UPDATE SET
                    due_at = excluded.due_at, user_id = excluded.user_id, created_at = excluded.created_at
                """,
                continuation.conversation.chatID, continuation.conversation.threadKey, continuation.dueAt,
                continuation.userID, UnixTime.nowMillis())
        }
    }

    /// Removes the conversation's continuation if it is still the one due at `dueAt`: true
    /// when it was, so the timer that fires runs it, and a call-off or a moved time wins.
    func take(_ key: ConversationKey, dueAt: Int64) async throws -> Bool {
        try await database.writer.write { connection in
            try connection.run(
                "DELETE FROM scheduled_continuations WHERE chat_id = ? AND thread_id = ? AND due_at = ?",
                key.chatID, key.threadKey, dueAt)
            return connection.changes > 0
        }
    }

    /// Removes the conversation's continuation; true when there was one.
    func cancel(_ key: ConversationKey) async throws -> Bool {
        try await database.writer.write { connection in
            try connection.run("DELETE FROM scheduled_continuations WHERE chat_id = ? AND thread_id = ?", key.chatID, key.threadKey)
            return connection.changes > 0
        }
    }

    /// Every continuation still to run, earliest first (at start, to set their timers again).
    func all() async throws -> [ScheduledContinuation] {
        try await database.reader.read { connection in
            try connection.prepare("SELECT chat_id, thread_id, due_at, user_id FROM scheduled_continuations ORDER BY due_at").query { row in
                ScheduledContinuation(
                    conversation: ConversationKey(chatID: row.int64(0), threadKey: row.int64(1)), dueAt: row.int64(2), userID: row.int64(3))
            }
        }
    }
}
