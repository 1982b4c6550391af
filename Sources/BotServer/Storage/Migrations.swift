import Logging

/// One step of the schema. Never edit a released migration: databases in the field have
/// already run it; add a new one instead.
struct Migration: Sendable {
    let version: Int
    let name: String
    let sql: String
}

/// Brings a database to the schema this binary expects, tracked in `PRAGMA user_version`.
enum Migrations {
    static let all: [Migration] = [
        Migration(
            version: 1, name: "inbox and rejected updates",
            sql: """
                CREATE TABLE inbox (
                    update_id   INTEGER PRIMARY KEY,
                    kind        TEXT NOT NULL,
                    chat_id     INTEGER,
                    thread_id   INTEGER,
                    payload     BLOB NOT NULL,
                    received_at INTEGER NOT NULL,  -- unix ms
                    state       TEXT NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'handled', 'failed')),
                    attempts    INTEGER NOT NULL DEFAULT 0,
                    handled_at  INTEGER,           -- unix ms
                    error       TEXT
                );
                -- Pending rows are few and read in update order; handled rows pile up until pruned.
                CREATE INDEX inbox_pending ON inbox(update_id) WHERE state = 'pending';

                -- Dead letter: bodies that were JSON but not an Update, kept for diagnosis.
                CREATE TABLE rejected_updates (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_at INTEGER NOT NULL,  -- unix ms
                    peer        TEXT,
                    reason      TEXT NOT NULL,
                    payload     BLOB NOT NULL
                );
                """),
        Migration(
            version: 2, name: "bot state",
            sql: """
                -- Small facts the bot keeps about itself: the getUpdates offset, what webhook it
                -- registered. One row per key.
                CREATE TABLE bot_state (
                    key        TEXT PRIMARY KEY,
                    value      TEXT NOT NULL,
                    updated_at INTEGER NOT NULL  -- unix ms
                ) WITHOUT ROWID;
                """),
        Migration(
            version: 3, name: "conversations, sessions, runs and audit",
            sql: """
                -- thread_id is 0 for a chat without topics, so that (chat_id, thread_id) can be a key.
                CREATE TABLE conversations (
                    chat_id         INTEGER NOT NULL,
                    thread_id       INTEGER NOT NULL,
                    project         TEXT NOT NULL,      -- absolute, inside the workspace root
                    session_id      TEXT NOT NULL,      -- the Claude session new prompts go to
                    session_started INTEGER NOT NULL DEFAULT 0,  -- its transcript exists: resume it
                    permission_mode TEXT NOT NULL DEFAULT 'default',
                    model           TEXT,
                    updated_at      INTEGER NOT NULL,   -- unix ms
                    PRIMARY KEY (chat_id, thread_id)
                ) WITHOUT ROWID;

                CREATE TABLE sessions (
                    session_id   TEXT PRIMARY KEY,
                    chat_id      INTEGER NOT NULL,
                    thread_id    INTEGER NOT NULL,
                    project      TEXT NOT NULL,
                    title        TEXT NOT NULL,
                    created_at   INTEGER NOT NULL,
                    last_used_at INTEGER NOT NULL,
                    turns        INTEGER NOT NULL DEFAULT 0,
                    cost_usd     REAL NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                CREATE INDEX sessions_by_project ON sessions(chat_id, thread_id, project, last_used_at);

                CREATE TABLE runs (
                    id            INTEGER PRIMARY KEY AUTOINCREMENT,
                    chat_id       INTEGER NOT NULL,
                    thread_id     INTEGER NOT NULL,
                    session_id    TEXT NOT NULL,
                    prompt        TEXT NOT NULL,
                    started_at    INTEGER NOT NULL,
                    ended_at      INTEGER,
                    outcome       TEXT NOT NULL DEFAULT 'running'
                                  CHECK (outcome IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
                    cost_usd      REAL NOT NULL DEFAULT 0,
                    input_tokens  INTEGER NOT NULL DEFAULT 0,
                    output_tokens INTEGER NOT NULL DEFAULT 0,
                    error         TEXT,
                    progress_message_id INTEGER,
                    update_id     INTEGER,           -- the update it came from: never run twice
                    reported      INTEGER NOT NULL DEFAULT 1   -- 0: interrupted, its chat not told yet
                );
                CREATE INDEX runs_by_update ON runs(update_id) WHERE update_id IS NOT NULL;
                CREATE INDEX runs_running ON runs(outcome) WHERE outcome = 'running';
                CREATE INDEX runs_by_time ON runs(started_at);

                -- A prompt waiting for the conversation's current run (or a forward collection
                -- window): one per conversation, later texts joined into it.
                CREATE TABLE queued_prompts (
                    chat_id     INTEGER NOT NULL,
                    thread_id   INTEGER NOT NULL,
                    text        TEXT NOT NULL,
                    message_id  INTEGER NOT NULL,   -- the first message it came from
                    notice_id   INTEGER,            -- the "queued" notice, to update
                    created_at  INTEGER NOT NULL,
                    PRIMARY KEY (chat_id, thread_id)
                ) WITHOUT ROWID;

                -- Button payloads too long for 64 bytes of callback_data: the button carries the token.
                CREATE TABLE callbacks (
                    token      TEXT PRIMARY KEY,
                    chat_id    INTEGER NOT NULL,
                    thread_id  INTEGER NOT NULL,
                    payload    TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;

                CREATE TABLE audit_log (
                    id       INTEGER PRIMARY KEY AUTOINCREMENT,
                    at       INTEGER NOT NULL,
                    user_id  INTEGER,
                    chat_id  INTEGER,
                    event    TEXT NOT NULL,
                    detail   TEXT
                );

                -- When each refused user was last told so (at most once an hour).
                CREATE TABLE refusals (
                    user_id INTEGER PRIMARY KEY,
                    last_at INTEGER NOT NULL
                );
                """),
        Migration(
            version: 4, name: "approvals and permission rules",
            sql: """
                -- "Always allow": a tool (pattern '') or, for Bash, a command prefix, in one project.
                CREATE TABLE permission_rules (
                    id         INTEGER PRIMARY KEY AUTOINCREMENT,
                    project    TEXT NOT NULL,
                    tool       TEXT NOT NULL,
                    pattern    TEXT NOT NULL DEFAULT '',
                    created_by INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    UNIQUE (project, tool, pattern)
                );

                -- Questions asked in Telegram; pending ones are expired at start (the CLI that
                -- asked is gone).
                CREATE TABLE approvals (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    chat_id     INTEGER NOT NULL,
                    thread_id   INTEGER NOT NULL,
                    message_id  INTEGER,
                    tool        TEXT NOT NULL,
                    summary     TEXT NOT NULL,
                    state       TEXT NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'decided', 'expired')),
                    created_at  INTEGER NOT NULL
                );
                CREATE INDEX approvals_pending ON approvals(state) WHERE state = 'pending';

                -- Who asked: only they (or an admin) may answer the run's approvals.
                ALTER TABLE runs ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE queued_prompts ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;
                """),
        Migration(
            version: 5, name: "scheduled continuations",
            sql: """
                -- "Continue at": a conversation a usage limit stopped goes on by itself once the
                -- limit resets, across restarts. One per conversation.
                CREATE TABLE scheduled_continuations (
                    chat_id    INTEGER NOT NULL,
                    thread_id  INTEGER NOT NULL,
                    due_at     INTEGER NOT NULL,   -- unix ms
                    user_id    INTEGER NOT NULL,   -- who asked: the continuation is their prompt
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (chat_id, thread_id)
                ) WITHOUT ROWID;
                """),
        Migration(
            version: 6, name: "outgoing messages",
            sql: """
                -- Messages the user must get even if the bot dies before Telegram has them: a
                -- run's answer, its end-of-run card, the "interrupted" notice. Stored before the
                -- run is marked concluded; sent in id order per conversation; message_id is
                -- Telegram's once it arrived, so a restart sends only what did not.
                CREATE TABLE outgoing (
                    id         INTEGER PRIMARY KEY AUTOINCREMENT,
                    chat_id    INTEGER NOT NULL,
                    thread_id  INTEGER NOT NULL,
                    run_id     INTEGER,
                    part       TEXT NOT NULL,      -- JSON: what to send (OutgoingPart)
                    state      TEXT NOT NULL DEFAULT 'pending'
                               CHECK (state IN ('pending', 'sent', 'failed')),
                    message_id INTEGER,            -- Telegram's, once sent
                    attempts   INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,   -- unix ms
                    sent_at    INTEGER,            -- unix ms
                    error      TEXT
                );
                CREATE INDEX outgoing_pending ON outgoing(id) WHERE state = 'pending';
                """),
    ]

    static var latestVersion: Int { all.last?.version ?? 0 }

    static func userVersion(_ connection: SQLiteConnection) throws -> Int {
        try connection.prepare("PRAGMA user_version").queryFirst { $0.int(0) } ?? 0
    }

    /// Applies the migrations newer than the database, each in its own transaction.
    /// Returns the versions applied.
    @discardableResult
    static func apply(
        to connection: SQLiteConnection, migrations: [Migration] = all, logger: Logger
    ) throws -> [Int] {
        precondition(
            zip(migrations, migrations.dropFirst()).allSatisfy { $0.version < $1.version },
            "migrations must be in increasing version order")
        let latest = migrations.last?.version ?? 0
        let found = try userVersion(connection)
        guard found <= latest else {
            throw DatabaseError.schemaTooNew(found: found, supported: latest)
        }
        var applied: [Int] = []
        for migration in migrations where migration.version > found {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                // Read again under the write lock: another process may have migrated meanwhile.
                if try userVersion(connection) < migration.version {
                    try connection.execute(migration.sql)
                    try connection.execute("PRAGMA user_version = \(migration.version)")
                    applied.append(migration.version)
                }
                try connection.execute("COMMIT")
            } catch {
                if !connection.isAutocommit { try? connection.execute("ROLLBACK") }
                throw error
            }
            if applied.last == migration.version {
                logger.info(
                    "database migrated",
                    metadata: ["version": "\(migration.version)", "migration": "\(migration.name)"])
            }
        }
        return applied
    }
}
