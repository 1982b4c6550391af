import FoundationEssentials

/// One message the bot must not lose, as stored: a text (HTML, with its plain-text fallback)
/// or an answer too long for messages, as a Markdown document.
struct OutgoingPart: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        case text
        case document
        /// Removes `replaces` (a progress message the answer was sent after).
        case delete
    }

    var kind: Kind
    /// The message's HTML, or the document's caption.
    var html: String
    /// Sent instead when Telegram refuses the HTML.
    var plain: String
    /// The document's content.
    var markdown: String?
    /// Edit this message (the run's progress message) instead of sending a new one; a new
    /// one is sent if it can no longer be edited.
    var replaces: Int64?
    var buttons: InlineKeyboardMarkup?

    static func text(html: String, plain: String? = nil, replaces: Int64? = nil, buttons: InlineKeyboardMarkup? = nil) -> OutgoingPart {
        OutgoingPart(
            kind: .text, html: html, plain: plain ?? AnswerFormatter.plainText(html: html), markdown: nil, replaces: replaces,
            buttons: buttons)
    }

    static func delete(_ messageID: Int64) -> OutgoingPart {
        OutgoingPart(kind: .delete, html: "", plain: "", markdown: nil, replaces: messageID, buttons: nil)
    }

    static func document(markdown: String, caption: String) -> OutgoingPart {
        OutgoingPart(
            kind: .document, html: caption, plain: AnswerFormatter.plainText(html: caption), markdown: markdown, replaces: nil,
            buttons: nil)
    }
}

/// A stored part waiting to be sent.
struct OutgoingRecord: Sendable, Equatable {
    var id: Int64
    var conversation: ConversationKey
    var runID: Int64?
    var part: OutgoingPart
    var attempts: Int
}

/// Table `outgoing`: what must reach the chat, stored before it is sent.
struct OutgoingStore: Sendable {
    let database: Database

    /// Stores `parts` in order, inside a write the caller is making (so that a run is marked
    /// concluded only together with its answer). Returns the rows, in order.
    static func insert(
        _ parts: [OutgoingPart], for key: ConversationKey, runID: Int64?, on connection: SQLiteConnection
    ) throws -> [OutgoingRecord] {
        let encoder = JSONEncoder()
        let now = UnixTime.nowMillis()
        var records: [OutgoingRecord] = []
        for part in parts {
            let json = String(decoding: try encoder.encode(part), as: UTF8.self)
            try connection.run(
                "INSERT INTO outgoing (chat_id, thread_id, run_id, part, created_at) VALUES (?, ?, ?, ?, ?)",
                key.chatID, key.threadKey, runID, json, now)
            records.append(OutgoingRecord(id: connection.lastInsertRowID, conversation: key, runID: runID, part: part, attempts: 0))
        }
        return records
    }

    /// Stores `parts` on their own.
    func store(_ parts: [OutgoingPart], for key: ConversationKey, runID: Int64? = nil) async throws -> [OutgoingRecord] {
        try await database.writer.write(.crashSafe) { connection in
            try Self.insert(parts, for: key, runID: runID, on: connection)
        }
    }

    /// Telegram has it: a restart must not send it again.
    func markSent(_ id: Int64, messageID: Int64?) async throws {
        try await database.writer.write(.crashSafe) { connection in
            try connection.run(
                "UPDATE outgoing SET state = 'sent', message_id = ?, sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                messageID, UnixTime.nowMillis(), id)
        }
    }

    /// Telegram refused it for good (the chat is gone, the bot was blocked): not tried again.
    func markFailed(_ id: Int64, error: String) async throws {
        try await database.writer.write { connection in
            try connection.run(
                "UPDATE outgoing SET state = 'failed', error = ?, attempts = attempts + 1 WHERE id = ?", error, id)
        }
    }

    /// A try that did not get through; it stays pending.
    func noteAttempt(_ id: Int64, error: String) async throws {
        try await database.writer.write(.crashSafe) { connection in
            try connection.run("UPDATE outgoing SET attempts = attempts + 1, error = ? WHERE id = ?", error, id)
        }
    }

    /// Everything not yet sent, oldest first.
    func pending() async throws -> [OutgoingRecord] {
        try await database.reader.read { connection in
            let decoder = JSONDecoder()
            return try connection.prepare(
                "SELECT id, chat_id, thread_id, run_id, part, attempts FROM outgoing WHERE state = 'pending' ORDER BY id"
            ).query { row in
                let part = try decoder.decode(OutgoingPart.self, from: Data((row.string(4) ?? "").utf8))
                return OutgoingRecord(
                    id: row.int64(0), conversation: ConversationKey(chatID: row.int64(1), threadKey: row.int64(2)),
                    runID: row.optionalInt64(3), part: part, attempts: row.int(5))
            }
        }
    }

    /// Sent or failed rows older than `age` are history nobody reads: removed.
    func prune(olderThan age: Duration) async throws -> Int {
        let cutoff = UnixTime.nowMillis() - Int64(age.components.seconds) * 1000
        return try await database.writer.write { connection in
            try connection.run("DELETE FROM outgoing WHERE state != 'pending' AND created_at < ?", cutoff)
            return connection.changes
        }
    }
}
