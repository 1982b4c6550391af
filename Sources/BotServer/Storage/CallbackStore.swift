/// Table `callbacks`: button payloads kept server-side, so callback_data is a short token
/// however long the payload (a folder name, a queued prompt's id, ...).
struct CallbackStore: Sendable {
    let database: Database

    /// Stores `payload` and returns the callback_data for its button: "c:" and 12 random characters.
    func register(_ payload: String, conversation key: ConversationKey) async throws -> String {
        let token = Self.randomToken()
        try await database.writer.write { connection in
            try connection.run(
                "INSERT INTO callbacks (token, chat_id, thread_id, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                token, key.chatID, key.threadKey, payload, UnixTime.nowMillis())
        }
        return "c:" + token
    }

    /// The payload of a button of this conversation, or nil (unknown, or another chat's).
    func payload(_ data: String, conversation key: ConversationKey) async throws -> String? {
        guard data.hasPrefix("c:") else { return nil }
        let token = String(data.dropFirst(2))
        return try await database.reader.read { connection in
            try connection.prepare("SELECT payload FROM callbacks WHERE token = ? AND chat_id = ? AND thread_id = ?")
                .queryFirst(token, key.chatID, key.threadKey) { $0.string(0) } ?? nil
        }
    }

    /// Forgets buttons older than `before` (unix ms); they answer "expired" afterwards.
    func prune(before: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run("DELETE FROM callbacks WHERE created_at < ?", before)
        }
    }

    static func randomToken() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".utf8)
        // SystemRandomNumberGenerator reads the kernel's CSPRNG: tokens are not guessable.
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<12).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
    }
}
