/// The durable inbox of Telegram updates: stored before the webhook acknowledges them,
/// then marked as their handling progresses.
struct InboxStore: Sendable {
    let database: Database

    init(database: Database) {
        self.database = database
    }

    /// Stores an update; returns once it is committed and flushed to disk. False if this
    /// update_id is already stored (Telegram re-sent it), in which case nothing changes.
    /// `committed` is told at commit, before the flush (see `DatabaseWriter.write`): the
    /// update may be handled from then on, since it survives a crash of the process.
    ///
    /// The row counts its first delivery attempt already, so the dispatcher need not write
    /// one before handing it over (`InboxRecord(pending:attemptRecorded: true)`). An update
    /// not delivered before a crash or shutdown then starts its next life at attempt 2,
    /// which the handlers treat like any redelivery: they look for the run it may have begun.
    func store(_ entry: InboxEntry, committed: (@Sendable (_ isNew: Bool) -> Void)? = nil) async throws -> Bool {
        // Inline: the update's handling (and a prompt's way to Claude) starts at this commit.
        try await database.writer.write(.synced, inlineWhenIdle: true, committed: committed) { connection in
            try connection.run(
                """
                INSERT OR IGNORE INTO inbox (update_id, kind, chat_id, thread_id, payload, received_at, attempts)
                VALUES (?, ?, ?, ?, ?, ?, 1)
                """,
                entry.updateID, entry.kind, entry.conversation?.chatID, entry.conversation?.threadID,
                entry.payload, entry.receivedAt)
            return connection.changes == 1
        }
    }

    /// One batch from getUpdates: its updates, the bodies that were not updates, and the offset
    /// that confirms the batch to Telegram, all in one transaction. A crash before the commit
    /// loses nothing (Telegram still has the batch); after it, the stored offset means the
    /// batch is confirmed on the next poll and never stored twice. Returns the entries that
    /// were new (not already stored).
    func storePolled(_ entries: [InboxEntry], rejected: [(payload: [UInt8], reason: String)], nextOffset: Int64?)
        async throws -> [InboxEntry]
    {
        try await database.writer.write { connection in
            var stored: [InboxEntry] = []
            for entry in entries {
                try connection.run(
                    """
                    INSERT OR IGNORE INTO inbox (update_id, kind, chat_id, thread_id, payload, received_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    entry.updateID, entry.kind, entry.conversation?.chatID, entry.conversation?.threadID,
                    entry.payload, entry.receivedAt)
                if connection.changes == 1 { stored.append(entry) }
            }
            for body in rejected {
                try connection.run(
                    "INSERT INTO rejected_updates (received_at, peer, reason, payload) VALUES (?, ?, ?, ?)",
                    UnixTime.nowMillis(), "getUpdates", body.reason, body.payload)
            }
            if let nextOffset { try BotStateStore.set(.pollingOffset, String(nextOffset), in: connection) }
            return stored
        }
    }

    /// Keeps a body that was JSON but not an Update, for diagnosis.
    func storeRejected(payload: [UInt8], reason: String, peer: String?, receivedAt: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run(
                "INSERT INTO rejected_updates (received_at, peer, reason, payload) VALUES (?, ?, ?, ?)",
                receivedAt, peer, reason, payload)
        }
    }

    /// Updates not yet handled nor given up on, oldest first.
    func pending() async throws -> [InboxRecord] {
        try await database.reader.read { connection in
            try connection.prepare(
                """
                SELECT update_id, kind, chat_id, thread_id, payload, received_at, state, attempts
                FROM inbox WHERE state = 'pending' ORDER BY update_id
                """
            ).query(row: Self.record)
        }
    }

    /// The oldest `limit` pending updates of one conversation (nil: updates that belong to no chat).
    func pending(of conversation: ConversationKey?, limit: Int) async throws -> [InboxRecord] {
        try await database.reader.read { connection in
            // IS, not =: it matches NULL (no chat, no topic) too.
            try connection.prepare(
                """
                SELECT update_id, kind, chat_id, thread_id, payload, received_at, state, attempts
                FROM inbox WHERE state = 'pending' AND chat_id IS ? AND thread_id IS ?
                ORDER BY update_id LIMIT ?
                """
            ).query(conversation?.chatID, conversation?.threadID, limit, row: Self.record)
        }
    }

    /// Conversations that have pending updates.
    func conversationsWithPendingUpdates() async throws -> [ConversationKey?] {
        try await database.reader.read { connection in
            try connection.prepare(
                "SELECT DISTINCT chat_id, thread_id FROM inbox WHERE state = 'pending'"
            ).query { row in
                row.optionalInt64(0).map { ConversationKey(chatID: $0, threadID: row.optionalInt64(1)) }
            }
        }
    }

    /// Counts a delivery attempt before it starts, so that an update that keeps crashing
    /// the process is eventually given up on. Returns the attempt's number (1 for the first),
    /// or nil when the update is no longer pending: it was handled or set aside already, and
    /// must not be handled again.
    ///
    /// Crash-safe rather than synced: it guards against crashes of the process, and it is on
    /// the path of every prompt (an fsync here cost up to 4 ms at p99).
    func beginAttempt(updateID: Int64) async throws -> Int? {
        try await database.writer.write(.crashSafe) { connection in
            let attempts = try connection.prepare(
                "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ? AND state = 'pending' RETURNING attempts"
            ).queryFirst(updateID) { $0.int(0) }
            if attempts == nil {
                let exists = try connection.prepare("SELECT 1 FROM inbox WHERE update_id = ?").queryFirst(updateID) { _ in true }
                if exists == nil { throw DatabaseError.noSuchUpdate(updateID: updateID) }
            }
            return attempts
        }
    }

    /// Crash-safe: if a power cut loses it, the update is delivered again and its handler
    /// sees it was already started (a run row, or an attempt count above one).
    func markHandled(updateID: Int64, at unixMillis: Int64) async throws {
        try await database.writer.write(.crashSafe) { connection in
            try connection.run(
                "UPDATE inbox SET state = 'handled', handled_at = ?, error = NULL WHERE update_id = ?",
                unixMillis, updateID)
            if connection.changes == 0 { throw DatabaseError.noSuchUpdate(updateID: updateID) }
        }
    }

    func markFailed(updateID: Int64, error: String, at unixMillis: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run(
                "UPDATE inbox SET state = 'failed', handled_at = ?, error = ? WHERE update_id = ?",
                unixMillis, error, updateID)
            if connection.changes == 0 { throw DatabaseError.noSuchUpdate(updateID: updateID) }
        }
    }

    /// Deletes handled and failed updates finished before `unixMillis`; returns how many.
    /// Pending ones are never pruned.
    func pruneHandled(before unixMillis: Int64) async throws -> Int {
        try await database.writer.write { connection in
            try connection.run(
                "DELETE FROM inbox WHERE state IN ('handled', 'failed') AND COALESCE(handled_at, received_at) < ?",
                unixMillis)
            return connection.changes
        }
    }

    /// Inbox rows in `state`, or all of them.
    func count(state: InboxState? = nil) async throws -> Int {
        try await database.reader.read { connection in
            if let state {
                return try connection.prepare("SELECT count(*) FROM inbox WHERE state = ?").queryFirst(state.rawValue) {
                    $0.int(0)
                } ?? 0
            }
            return try connection.prepare("SELECT count(*) FROM inbox").queryFirst { $0.int(0) } ?? 0
        }
    }

    /// Bodies kept as rejected (valid JSON, not an update).
    func rejectedCount() async throws -> Int {
        try await database.reader.read { connection in
            try connection.prepare("SELECT count(*) FROM rejected_updates").queryFirst { $0.int(0) } ?? 0
        }
    }

    private static func record(_ row: SQLiteStatement) throws -> InboxRecord {
        InboxRecord(
            updateID: row.int64(0),
            kind: row.string(1) ?? "",
            conversation: row.optionalInt64(2).map { ConversationKey(chatID: $0, threadID: row.optionalInt64(3)) },
            payload: row.blob(4) ?? [],
            receivedAt: row.int64(5),
            state: InboxState(rawValue: row.string(6) ?? "") ?? .pending,
            attempts: row.int(7))
    }
}
