/// Per-connection settings. Pragmas are not stored in the file (except WAL), so every
/// connection applies them on open.
enum ConnectionSetup {
    static let defaultBusyTimeoutMilliseconds = 5000

    static func configureWriter(_ connection: SQLiteConnection, busyTimeoutMilliseconds: Int) throws {
        try connection.execute("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)")
        // WAL: readers never block the writer nor the writer them, and a commit is one
        // append to the log instead of rewriting pages in place.
        let mode = try connection.prepare("PRAGMA journal_mode = WAL").queryFirst { $0.string(0) } ?? nil
        guard mode?.lowercased() == "wal" else {
            throw DatabaseError.walUnavailable(journalMode: mode ?? "unknown")
        }
        // FULL, not WAL's usual NORMAL: an update is acknowledged to Telegram only after its
        // commit, so a commit must survive power loss, and NORMAL may lose the last commits
        // (https://www.sqlite.org/pragma.html#pragma_synchronous). The fsync this costs per
        // commit is shared by every update of a batch through DatabaseWriter's group commit.
        try connection.execute("PRAGMA synchronous = FULL")
        try connection.execute("PRAGMA foreign_keys = ON")
    }

    static func configureReader(_ connection: SQLiteConnection, busyTimeoutMilliseconds: Int) throws {
        // Readers wait only while another connection recovers the WAL after a crash.
        try connection.execute("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)")
        try connection.execute("PRAGMA foreign_keys = ON")
    }
}
