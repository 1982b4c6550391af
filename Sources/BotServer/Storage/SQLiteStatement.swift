import CSQLite

/// A prepared statement owned by a `SQLiteConnection`'s cache. Confined to the
/// connection's thread like the connection itself.
final class SQLiteStatement {
    private(set) var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection
    let sql: String

    init(handle: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    deinit { finalize() }

    func finalize() {
        if let handle { sqlite3_finalize(handle) }
        handle = nil
    }

    /// Ends the current use: releases the statement's read snapshot and clears bindings
    /// so that a stale value can never leak into the next use.
    func reset() {
        guard let handle else { return }
        // Returns the last step's error again; that error was already reported by step().
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Binding

    /// Resets the statement and binds `values` to parameters 1...n.
    @discardableResult
    func bind(_ values: (any SQLiteBindable)?...) throws -> SQLiteStatement {
        try bind(values)
    }

    @discardableResult
    func bind(_ values: [(any SQLiteBindable)?]) throws -> SQLiteStatement {
        reset()
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
        return self
    }

    func bind(_ value: (any SQLiteBindable)?, at index: Int32) throws {
        let handle = try liveHandle()
        let rc = value.map { $0.bind(to: handle, at: index) } ?? sqlite3_bind_null(handle, index)
        // Parameter index only: the value itself must never reach an error message.
        try connection.check(rc, "binding parameter \(index) of \(SQLiteConnection.abbreviate(sql))")
    }

    // MARK: Stepping

    /// Advances to the next row: true if there is one, false when the statement is done.
    func step() throws -> Bool {
        let handle = try liveHandle()
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(rc, "running \(SQLiteConnection.abbreviate(sql))")
            reset()
            throw error
        }
    }

    /// Binds, runs to completion and resets; for statements that return no rows.
    func execute(_ values: (any SQLiteBindable)?...) throws {
        try bind(values)
        defer { reset() }
        while try step() {}
    }

    /// Binds, collects every row through `row`, and resets.
    func query<T>(_ values: (any SQLiteBindable)?..., row: (SQLiteStatement) throws -> T) throws -> [T] {
        try bind(values)
        defer { reset() }
        var rows: [T] = []
        while try step() { rows.append(try row(self)) }
        return rows
    }

    /// Binds, reads the first row (if any) through `row`, and resets.
    func queryFirst<T>(_ values: (any SQLiteBindable)?..., row: (SQLiteStatement) throws -> T) throws -> T? {
        try bind(values)
        defer { reset() }
        return try step() ? row(self) : nil
    }

    // MARK: Columns (0-based, valid after step() returned true)

    var columnCount: Int { handle.map { Int(sqlite3_column_count($0)) } ?? 0 }

    func isNull(_ column: Int) -> Bool {
        sqlite3_column_type(handle, Int32(column)) == SQLITE_NULL
    }

    func int64(_ column: Int) -> Int64 { sqlite3_column_int64(handle, Int32(column)) }

    func int(_ column: Int) -> Int { Int(sqlite3_column_int64(handle, Int32(column))) }

    func double(_ column: Int) -> Double { sqlite3_column_double(handle, Int32(column)) }

    func optionalInt64(_ column: Int) -> Int64? { isNull(column) ? nil : int64(column) }

    func string(_ column: Int) -> String? {
        if isNull(column) { return nil }
        // Text first, then its length: the documented order, as text may be converted.
        guard let text = sqlite3_column_text(handle, Int32(column)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func blob(_ column: Int) -> [UInt8]? {
        if isNull(column) { return nil }
        guard let bytes = sqlite3_column_blob(handle, Int32(column)) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    private func liveHandle() throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(
                code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, message: "statement is finalized",
                context: "using \(SQLiteConnection.abbreviate(sql))")
        }
        return handle
    }
}
