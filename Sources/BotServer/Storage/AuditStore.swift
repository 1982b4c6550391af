/// Tables `audit_log` and `refusals`: who tried what, and when a refused user was last told.
struct AuditStore: Sendable {
    let database: Database

    /// `durability`: `.crashSafe` where a tap waits for the record (a power cut may lose only
    /// the newest such rows; the next synced write flushes them).
    func record(
        event: String, userID: Int64?, chatID: Int64?, detail: String?, durability: DatabaseWriter.Durability = .synced
    ) async throws {
        try await database.writer.write(durability) { connection in
            try connection.run(
                "INSERT INTO audit_log (at, user_id, chat_id, event, detail) VALUES (?, ?, ?, ?, ?)",
                UnixTime.nowMillis(), userID, chatID, event, detail)
        }
    }

    /// Records an unknown user's attempt; true when they should be told (not told in the last `interval` ms).
    func refuse(userID: Int64, chatID: Int64?, detail: String, interval: Int64 = 3_600_000) async throws -> Bool {
        try await database.writer.write { connection in
            let now = UnixTime.nowMillis()
            try connection.run(
                "INSERT INTO audit_log (at, user_id, chat_id, event, detail) VALUES (?, ?, ?, 'refused', ?)",
                now, userID, chatID, detail)
            let last = try connection.prepare("SELECT last_at FROM refusals WHERE user_id = ?").queryFirst(userID) { $0.int64(0) }
            guard last.map({ now - $0 >= interval }) ?? true else { return false }
            try connection.run(
                "INSERT INTO refusals (user_id, last_at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET last_at = excluded.last_at",
                userID, now)
            return true
        }
    }

    func count(event: String) async throws -> Int {
        try await database.reader.read { connection in
            try connection.prepare("SELECT COUNT(*) FROM audit_log WHERE event = ?").queryFirst(event) { $0.int(0) } ?? 0
        }
    }
}
