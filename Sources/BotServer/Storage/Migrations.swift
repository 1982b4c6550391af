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
