/// Named values the bot remembers across restarts (table `bot_state`).
struct BotStateStore: Sendable {
    enum Key: String, Sendable {
        /// The next getUpdates offset: one more than the highest update_id stored from polling.
        case pollingOffset = "polling_offset"
        /// What `serve` last registered with setWebhook (URL, settings and a digest of the secret).
        case webhookRegistration = "webhook_registration"
    }

    let database: Database

    func value(_ key: Key) async throws -> String? {
        try await database.reader.read { connection in
            try connection.prepare("SELECT value FROM bot_state WHERE key = ?").queryFirst(key.rawValue) { $0.string(0) } ?? nil
        }
    }

    func set(_ key: Key, _ value: String) async throws {
        try await database.writer.write { connection in
            try Self.set(key, value, in: connection)
        }
    }

    /// For writers that keep a value in the same transaction as other rows.
    static func set(_ key: Key, _ value: String, in connection: SQLiteConnection) throws {
        try connection.run(
            """
            INSERT INTO bot_state (key, value, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """,
            key.rawValue, value, UnixTime.nowMillis())
    }
}
