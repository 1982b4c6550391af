import CSQLite

/// One SQLite connection. Not thread-safe by design: it is opened with SQLITE_OPEN_NOMUTEX
/// and each instance is confined to one serial queue (`DatabaseWriter`, `DatabaseReader`),
/// so SQLite's own mutexes would only cost time. It is deliberately not `Sendable`.
final class SQLiteConnection {
    enum Mode {
        case readOnly
        case readWrite
        case readWriteCreate

        fileprivate var flags: Int32 {
            switch self {
            case .readOnly: return SQLITE_OPEN_READONLY
            case .readWrite: return SQLITE_OPEN_READWRITE
            case .readWriteCreate: return SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
            }
        }
    }

    let path: String
    private var handle: OpaquePointer?
    /// Keyed by SQL text: callers pass constant SQL with bound parameters, so the cache
    /// is bounded by the program's own statements.
    private var statements: [String: SQLiteStatement] = [:]
    /// Kept alive for SQLite's WAL hook, which holds it unretained.
    private var walObserver: WALObserver?

    private final class WALObserver {
        let observe: (Int) -> Void
        init(_ observe: @escaping (Int) -> Void) { self.observe = observe }
    }

    init(path: String, mode: Mode) throws {
        self.path = path
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, mode.flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            // A handle is allocated even when opening fails; it holds the message and must be closed.
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            let extended = handle.map { sqlite3_extended_errcode($0) } ?? rc
            sqlite3_close_v2(handle)
            throw SQLiteError(code: rc & 0xFF, extendedCode: extended, message: message, context: "opening \(path)")
        }
        self.handle = handle
    }

    deinit { close() }

    var isOpen: Bool { handle != nil }

    /// Finalizes the cached statements, then closes. Safe to call twice.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements.removeAll()
        if let handle {
            sqlite3_wal_hook(handle, nil, nil)
            sqlite3_close_v2(handle)
        }
        handle = nil
        walObserver = nil
    }

    /// Runs a script of one or more statements without parameters (schema, pragmas).
    func execute(_ sql: String) throws {
        let handle = try liveHandle(for: sql)
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard rc == SQLITE_OK else {
            var error = self.error(rc, "executing \(Self.abbreviate(sql))")
            if let message { error.message = String(cString: message) }
            throw error
        }
    }

    /// The cached prepared statement for `sql`, reset and with its bindings cleared.
    func prepare(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql], cached.handle != nil {
            cached.reset()
            return cached
        }
        let handle = try liveHandle(for: sql)
        var statementHandle: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statementHandle, nil)
        guard rc == SQLITE_OK, let statementHandle else {
            throw error(rc, "preparing \(Self.abbreviate(sql))")
        }
        let statement = SQLiteStatement(handle: statementHandle, sql: sql, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Prepares (cached), binds and runs a statement that returns no rows.
    func run(_ sql: String, _ values: (any SQLiteBindable)?...) throws {
        let statement = try prepare(sql)
        try statement.bind(values)
        defer { statement.reset() }
        while try statement.step() {}
    }

    /// Resets every cached statement. Run after each unit of work so that a statement left
    /// mid-rows cannot hold a read snapshot open (stale reads, WAL never checkpointed).
    func resetStatements() {
        for statement in statements.values { statement.reset() }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { handle.map { Int(sqlite3_changes64($0)) } ?? 0 }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Calls `observe` after each commit with the number of pages in the WAL, on the thread
    /// that committed. This replaces SQLite's automatic checkpoint, which is itself such a
    /// hook: whoever observes is then in charge of checkpointing (`WALCheckpointer`).
    func observeWALCommits(_ observe: @escaping (_ pages: Int) -> Void) {
        guard let handle else { return }
        let observer = WALObserver(observe)
        walObserver = observer
        sqlite3_wal_hook(
            handle,
            { context, _, _, pages in
                if let context { Unmanaged<WALObserver>.fromOpaque(context).takeUnretainedValue().observe(Int(pages)) }
                return SQLITE_OK
            }, Unmanaged.passUnretained(observer).toOpaque())
    }

    /// Copies what it can of the WAL into the database file without waiting for readers or
    /// the writer (a passive checkpoint). Returns the log's size and the frames now copied.
    func checkpointPassively() throws -> (logFrames: Int, checkpointedFrames: Int) {
        let handle = try liveHandle(for: "checkpoint")
        var log: Int32 = 0
        var checkpointed: Int32 = 0
        try check(sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &checkpointed), "checkpointing \(path)")
        return (Int(log), Int(checkpointed))
    }

    /// The path of the main database's write-ahead log, as SQLite names it (nil when closed
    /// or for an in-memory database).
    var walPath: String? {
        guard let handle, let name = sqlite3_db_filename(handle, "main"), name.pointee != 0,
            let wal = sqlite3_filename_wal(name)
        else { return nil }
        return String(cString: wal)
    }

    /// False while a transaction is open. SQLite rolls a transaction back by itself after
    /// some errors (disk full, I/O error); this is how to notice.
    var isAutocommit: Bool { handle.map { sqlite3_get_autocommit($0) != 0 } ?? true }

    // MARK: Errors

    func check(_ rc: Int32, _ context: @autoclosure () -> String) throws {
        if rc != SQLITE_OK { throw error(rc, context()) }
    }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        guard let handle else {
            return SQLiteError(code: rc & 0xFF, extendedCode: rc, message: String(cString: sqlite3_errstr(rc)), context: context)
        }
        return SQLiteError(
            code: rc & 0xFF, extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)), context: context)
    }

    /// SQL in error messages is ours (values are bound, never spliced in) but can be long.
    static func abbreviate(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return line.count <= 120 ? "`\(line)`" : "`\(line.prefix(117))...`"
    }

    private func liveHandle(for sql: String) throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(
                code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, message: "connection is closed",
                context: "using \(Self.abbreviate(sql)) on \(path)")
        }
        return handle
    }
}
