#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Failures of the storage layer that are not a single SQLite call going wrong.
enum DatabaseError: Error, CustomStringConvertible, Equatable {
    /// The writer or reader was closed; nothing more can be done through it.
    case closed
    /// The schema is newer than this binary: a newer release ran on this data directory.
    case schemaTooNew(found: Int, supported: Int)
    /// WAL could not be enabled (e.g. a file system without shared memory support).
    case walUnavailable(journalMode: String)
    case cannotCreateDirectory(path: String, errno: Int32)
    /// A row that the caller expected is not there.
    case noSuchUpdate(updateID: Int64)
    /// Flushing the write-ahead log failed. Sticky: after a failed flush the kernel may have
    /// dropped the unwritten pages, so no later write is reported durable until a restart.
    case walSyncFailed(path: String, errno: Int32)

    var description: String {
        switch self {
        case .closed:
            return "the database is closed"
        case let .schemaTooNew(found, supported):
            return "the database was written by a newer version of this program (schema version \(found); "
                + "this binary knows up to \(supported)); run the newer version or restore a backup"
        case let .walUnavailable(mode):
            return "could not switch the database to WAL mode (journal_mode is \(mode))"
        case let .cannotCreateDirectory(path, code):
            return "cannot create the data directory \(path) (errno \(code))"
        case let .noSuchUpdate(updateID):
            return "no stored update with update_id \(updateID)"
        case let .walSyncFailed(path, code):
            return "could not flush \(path) to disk (\(String(cString: strerror(code))), errno \(code)); "
                + "updates are no longer acknowledged: check the disk, then restart"
        }
    }
}
