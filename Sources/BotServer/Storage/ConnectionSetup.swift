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
        // NORMAL: a commit is appended to the WAL without waiting for the disk, so it survives
        // a crash of the process but maybe not a power cut
        // (https://www.sqlite.org/pragma.html#pragma_synchronous). Writes that must survive
        // one (an update about to be acknowledged to Telegram) wait for DatabaseWriter's
        // flush of the WAL instead, which runs beside the commits rather than inside each.
        // Checkpoints still flush the WAL before copying it into the database file.
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.execute("PRAGMA foreign_keys = ON")
    }

    /// For `WALCheckpointer`'s connection. NORMAL still flushes the WAL before a checkpoint
    /// copies it and the database file after, which is what a checkpoint needs.
    static func configureCheckpointer(_ connection: SQLiteConnection, busyTimeoutMilliseconds: Int) throws {
        try connection.execute("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)")
        try connection.execute("PRAGMA synchronous = NORMAL")
        // This connection never checkpoints on its own commits: it makes none.
    }

    static func configureReader(_ connection: SQLiteConnection, busyTimeoutMilliseconds: Int) throws {
        // Readers wait only while another connection recovers the WAL after a crash.
        try connection.execute("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)")
        try connection.execute("PRAGMA foreign_keys = ON")
    }
}
