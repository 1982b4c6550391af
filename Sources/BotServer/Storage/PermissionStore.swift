/// An "always allow" rule: a tool, or for Bash a command prefix, in one project.
struct PermissionRule: Sendable, Equatable {
    var id: Int64
    var project: String
    var tool: String
    /// For Bash: the command prefix ("swift test"); empty: every use of the tool.
    var pattern: String

    /// Whether a request for `tool` with `input` in `project` is covered.
    func covers(tool requested: String, command: String?, project requestedProject: String) -> Bool {
        guard requested == tool, requestedProject == project else { return false }
        guard !pattern.isEmpty else { return true }
        guard let command else { return false }
        // A prefix of words, not of characters: "git status" must not allow "git status; rm -rf".
        return BashPrefix.matches(command: command, prefix: pattern)
    }
}

/// A question shown in Telegram, as stored (only so that a restart can expire it).
struct StoredApproval: Sendable {
    var id: Int64
    var conversation: ConversationKey
    var messageID: Int64?
    var summary: String
}

/// Tables `permission_rules` and `approvals`.
struct PermissionStore: Sendable {
    let database: Database

    func rules(for project: String) async throws -> [PermissionRule] {
        try await database.reader.read { connection in
            try connection.prepare("SELECT id, project, tool, pattern FROM permission_rules WHERE project = ? ORDER BY id")
                .query(project) { PermissionRule(id: $0.int64(0), project: $0.string(1) ?? "", tool: $0.string(2) ?? "", pattern: $0.string(3) ?? "") }
        }
    }

    func add(tool: String, pattern: String, project: String, by userID: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run(
                "INSERT OR IGNORE INTO permission_rules (project, tool, pattern, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                project, tool, pattern, userID, UnixTime.nowMillis())
        }
    }

    /// Removes a rule of `project`; false if there was none.
    func revoke(_ id: Int64, project: String) async throws -> Bool {
        try await database.writer.write { connection in
            try connection.run("DELETE FROM permission_rules WHERE id = ? AND project = ?", id, project)
            return connection.changes == 1
        }
    }

    func recordAsked(conversation key: ConversationKey, tool: String, summary: String) async throws -> Int64 {
        try await database.writer.write { connection in
            try connection.run(
                "INSERT INTO approvals (chat_id, thread_id, tool, summary, created_at) VALUES (?, ?, ?, ?, ?)",
                key.chatID, key.threadKey, tool, summary, UnixTime.nowMillis())
            return connection.lastInsertRowID
        }
    }

    func setMessage(approval id: Int64, messageID: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run("UPDATE approvals SET message_id = ? WHERE id = ?", messageID, id)
        }
    }

    func markDecided(approval id: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run("UPDATE approvals SET state = 'decided' WHERE id = ?", id)
        }
    }

    /// At start: questions still pending were asked by a CLI that is gone.
    func expirePending() async throws -> [StoredApproval] {
        try await database.writer.write { connection in
            let pending = try connection.prepare(
                "SELECT id, chat_id, thread_id, message_id, summary FROM approvals WHERE state = 'pending'"
            ).query { row in
                StoredApproval(
                    id: row.int64(0), conversation: ConversationKey(chatID: row.int64(1), threadKey: row.int64(2)),
                    messageID: row.optionalInt64(3), summary: row.string(4) ?? "")
            }
            try connection.run("UPDATE approvals SET state = 'expired' WHERE state = 'pending'")
            return pending
        }
    }
}

/// The command prefix an "always allow" for Bash remembers, and how it matches.
enum BashPrefix {
    /// The first two words ("swift test", "npm run"), or one for a single-word command;
    /// nothing for commands that chain or redirect (an always-allow must not cover what follows).
    static func of(_ command: String) -> String? {
        let trimmed = command.trimmingWhitespace()
        guard !trimmed.isEmpty, !containsShellControl(trimmed) else { return nil }
        let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return words.prefix(2).joined(separator: " ")
    }

    static func matches(command: String, prefix: String) -> Bool {
        let trimmed = command.trimmingWhitespace()
        guard !containsShellControl(trimmed) else { return false }
        let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let wanted = prefix.split(separator: " ").map(String.init)
        return words.count >= wanted.count && Array(words.prefix(wanted.count)) == wanted
    }

    /// Separators, substitutions and redirections: a command with any of them is more than its prefix.
    static func containsShellControl(_ command: String) -> Bool {
        command.contains { ";&|<>`$\n(){}".contains($0) }
    }
}
