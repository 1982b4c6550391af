/// How a run ended.
enum RunOutcomeKind: String, Sendable {
    case running, completed, failed, cancelled, interrupted
}

/// One prompt's run, as stored.
struct RunRecord: Sendable, Equatable {
    var id: Int64
    var conversation: ConversationKey
    var sessionID: String
    var prompt: String
    var startedAt: Int64
    var endedAt: Int64?
    var outcome: RunOutcomeKind
    var costUSD: Double
    var progressMessageID: Int64?
    var userID: Int64
}

/// A session as /sessions lists it.
struct SessionSummary: Sendable, Equatable {
    var id: String
    var project: String
    var title: String
    var createdAt: Int64
    var lastUsedAt: Int64
    var turns: Int
    var costUSD: Double
}

/// What a run finished with, for its row and its session's totals.
struct RunCompletion: Sendable {
    var outcome: RunOutcomeKind
    var costUSD: Double
    var inputTokens: Int
    var outputTokens: Int
    var turns: Int
    var error: String?
}

/// Tables `sessions` and `runs`.
struct RunStore: Sendable {
    let database: Database

    /// Records a run as running, and its session (created on its first prompt).
    func begin(
        conversation key: ConversationKey, sessionID: String, project: String, prompt: String, updateID: Int64?, userID: Int64
    ) async throws -> Int64 {
        try await beginning(
            conversation: key, sessionID: sessionID, project: project, prompt: prompt, updateID: updateID, userID: userID
        ).value
    }

    /// `begin`, queued now and awaited later: the prompt goes to Claude while the row commits.
    /// Crash-safe: a crash (or a power cut) that loses the row loses the later marking of its
    /// update as handled too (the WAL keeps order), so the update is delivered again, finds
    /// no run, and is run again.
    func beginning(
        conversation key: ConversationKey, sessionID: String, project: String, prompt: String, updateID: Int64?, userID: Int64
    ) -> PendingWrite<Int64> {
        database.writer.submit(.crashSafe) { connection in
            let now = UnixTime.nowMillis()
            try connection.run(
                """
                INSERT INTO sessions (session_id, chat_id, thread_id, project, title, created_at, last_used_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (session_id) DO UPDATE SET last_used_at = excluded.last_used_at
                """,
                sessionID, key.chatID, key.threadKey, project, SessionTitle.make(prompt), now, now)
            try connection.run(
                "INSERT INTO runs (chat_id, thread_id, session_id, prompt, started_at, update_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                key.chatID, key.threadKey, sessionID, prompt, now, updateID, userID)
            return connection.lastInsertRowID
        }
    }

    /// A run was already started from this update (it is being delivered again after a crash).
    func hasRun(forUpdate updateID: Int64) async throws -> Bool {
        try await database.reader.read { connection in
            try connection.prepare("SELECT 1 FROM runs WHERE update_id = ? LIMIT 1").queryFirst(updateID) { _ in true } ?? false
        }
    }

    func setProgressMessage(run id: Int64, messageID: Int64) async throws {
        try await database.writer.write(.crashSafe) { connection in
            try connection.run("UPDATE runs SET progress_message_id = ? WHERE id = ?", messageID, id)
        }
    }

    /// Marks the run concluded together with what must reach the chat about it (stored
    /// in the same transaction: a crash leaves both or neither); returns the stored parts.
    @discardableResult
    func finish(
        run id: Int64, sessionID: String, _ completion: RunCompletion, outgoing: [OutgoingPart] = [], to key: ConversationKey? = nil
    ) async throws -> [OutgoingRecord] {
        try await database.writer.write(.crashSafe) { connection in
            let now = UnixTime.nowMillis()
            try connection.run(
                """
                UPDATE runs SET ended_at = ?, outcome = ?, cost_usd = ?, input_tokens = ?, output_tokens = ?, error = ?
                WHERE id = ?
                """,
                now, completion.outcome.rawValue, completion.costUSD, completion.inputTokens, completion.outputTokens,
                completion.error, id)
            try connection.run(
                "UPDATE sessions SET last_used_at = ?, turns = turns + ?, cost_usd = cost_usd + ? WHERE session_id = ?",
                now, completion.turns, completion.costUSD, sessionID)
            guard let key, !outgoing.isEmpty else { return [] }
            return try OutgoingStore.insert(outgoing, for: key, runID: id, on: connection)
        }
    }

    /// At start-up: runs a crash or restart cut off become interrupted, to be reported.
    func markInterrupted() async throws -> Int {
        try await database.writer.write { connection in
            try connection.run(
                "UPDATE runs SET outcome = 'interrupted', ended_at = ?, reported = 0, error = 'the bot restarted during the run' WHERE outcome = 'running'",
                UnixTime.nowMillis())
            return connection.changes
        }
    }

    /// Interrupted runs whose chat has not been told yet.
    func unreportedInterruptions() async throws -> [RunRecord] {
        try await database.reader.read { connection in
            try connection.prepare("SELECT \(Self.runColumns) FROM runs WHERE reported = 0 ORDER BY id").query(row: Self.run)
        }
    }

    /// The run's interruption is told: marked together with the parts that tell it.
    @discardableResult
    func markReported(run id: Int64, outgoing: [OutgoingPart] = [], to key: ConversationKey? = nil) async throws -> [OutgoingRecord] {
        try await database.writer.write(.crashSafe) { connection in
            try connection.run("UPDATE runs SET reported = 1 WHERE id = ? AND reported = 0", id)
            guard connection.changes > 0, let key, !outgoing.isEmpty else { return [] }
            return try OutgoingStore.insert(outgoing, for: key, runID: id, on: connection)
        }
    }

    func run(_ id: Int64) async throws -> RunRecord? {
        try await database.reader.read { connection in
            try connection.prepare("SELECT \(Self.runColumns) FROM runs WHERE id = ?").queryFirst(id, row: Self.run)
        }
    }

    /// The conversation's sessions in `project`, most recently used first.
    func sessions(of key: ConversationKey, project: String, limit: Int) async throws -> [SessionSummary] {
        try await database.reader.read { connection in
            try connection.prepare(
                """
                SELECT session_id, project, title, created_at, last_used_at, turns, cost_usd FROM sessions
                WHERE chat_id = ? AND thread_id = ? AND project = ? ORDER BY last_used_at DESC LIMIT ?
                """
            ).query(key.chatID, key.threadKey, project, limit, row: Self.session)
        }
    }

    func session(_ id: String) async throws -> SessionSummary? {
        try await database.reader.read { connection in
            try connection.prepare(
                "SELECT session_id, project, title, created_at, last_used_at, turns, cost_usd FROM sessions WHERE session_id = ?"
            ).queryFirst(id, row: Self.session)
        }
    }

    /// Total cost of the conversation's runs that started at or after `since` (unix ms).
    func cost(of key: ConversationKey, since: Int64) async throws -> (cost: Double, runs: Int) {
        try await database.reader.read { connection in
            try connection.prepare(
                "SELECT COALESCE(SUM(cost_usd), 0), COUNT(*) FROM runs WHERE chat_id = ? AND thread_id = ? AND started_at >= ?"
            ).queryFirst(key.chatID, key.threadKey, since) { ($0.double(0), $0.int(1)) } ?? (0, 0)
        }
    }

    private static let runColumns =
        "id, chat_id, thread_id, session_id, prompt, started_at, ended_at, outcome, cost_usd, progress_message_id, user_id"

    private static func session(_ row: SQLiteStatement) -> SessionSummary {
        SessionSummary(
            id: row.string(0) ?? "", project: row.string(1) ?? "", title: row.string(2) ?? "", createdAt: row.int64(3),
            lastUsedAt: row.int64(4), turns: row.int(5), costUSD: row.double(6))
    }

    private static func run(_ row: SQLiteStatement) -> RunRecord {
        RunRecord(
            id: row.int64(0), conversation: ConversationKey(chatID: row.int64(1), threadKey: row.int64(2)),
            sessionID: row.string(3) ?? "", prompt: row.string(4) ?? "", startedAt: row.int64(5), endedAt: row.optionalInt64(6),
            outcome: RunOutcomeKind(rawValue: row.string(7) ?? "") ?? .failed, costUSD: row.double(8),
            progressMessageID: row.optionalInt64(9), userID: row.int64(10))
    }
}

/// A session's title: its first prompt, on one line, shortened.
enum SessionTitle {
    static func make(_ prompt: String, maxLength: Int = 60) -> String {
        let line = prompt.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingWhitespace() ?? ""
        guard line.count > maxLength else { return line.isEmpty ? "(no text)" : line }
        return String(line.prefix(maxLength - 1)).trimmingWhitespace() + "…"
    }
}
