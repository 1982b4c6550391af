#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only descriptor of the database's write-ahead log, kept only to flush it.
///
/// `fdatasync` on any descriptor of a file makes durable everything written to that file
/// before the call, whoever wrote it (fsync(2)); so the WAL frames the writer connection
/// committed with `synchronous = NORMAL` can be made durable here, on another thread,
/// while the writer goes on committing. Only the `-wal` file is opened: SQLite keeps its
/// POSIX locks on the database and `-shm` files, and closing any descriptor of a file
/// would release them all. Confined to `WALSyncer`'s queue.
final class WALFile {
    let path: String
    private var descriptor: Int32 = -1
    private var inode: (device: UInt64, number: UInt64)?

    init(path: String) {
        self.path = path
    }

    deinit { release() }

    /// The inode of the file the descriptor is open on, if it is (for tests).
    var openedInode: UInt64? { inode?.number }

    /// Makes the log durable as of now. Reopens it if SQLite replaced the file (its inode
    /// changed), and then flushes the directory too, so the new file's name is durable.
    func sync() throws(DatabaseError) {
        try openCurrentFile()
        while fdatasync(descriptor) != 0 {
            let code = errno
            if code != EINTR { throw .walSyncFailed(path: path, errno: code) }
        }
    }

    func release() {
        if descriptor >= 0 { _ = close(descriptor) }
        descriptor = -1
        inode = nil
    }

    private func openCurrentFile() throws(DatabaseError) {
        var onDisk = stat()
        guard stat(path, &onDisk) == 0 else { throw .walSyncFailed(path: path, errno: errno) }
        let current = (device: UInt64(onDisk.st_dev), number: UInt64(onDisk.st_ino))
        if let inode, inode == current, descriptor >= 0 { return }
        release()
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { throw .walSyncFailed(path: path, errno: errno) }
        descriptor = opened
        inode = current
        try syncDirectory()
    }

    private func syncDirectory() throws(DatabaseError) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let opened = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard opened >= 0 else { throw .walSyncFailed(path: directory, errno: errno) }
        defer { _ = close(opened) }
        while fsync(opened) != 0 {
            let code = errno
            if code != EINTR { throw .walSyncFailed(path: directory, errno: code) }
        }
    }
}
