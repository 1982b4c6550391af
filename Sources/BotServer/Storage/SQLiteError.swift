import CSQLite

/// A failed SQLite call. Carries what we were doing and SQLite's own diagnosis, never the
/// bound values: those are update payloads and user text, which must not reach the logs.
struct SQLiteError: Error, CustomStringConvertible {
    /// Primary result code (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
    var code: Int32
    /// Extended result code (SQLITE_CONSTRAINT_CHECK, SQLITE_IOERR_FSYNC, ...).
    var extendedCode: Int32
    var message: String
    var context: String

    var description: String {
        "\(context): \(message) (SQLite code \(code), extended \(extendedCode))"
    }

    var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    var isConstraintViolation: Bool { code == SQLITE_CONSTRAINT }
}
