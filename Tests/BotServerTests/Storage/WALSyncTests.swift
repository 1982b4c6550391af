import Dispatch
import Synchronization
import Testing

@testable import BotServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct WALSyncTests {
    private func writer(in directory: String, flush: HeldFlush) throws -> DatabaseWriter {
        let connection = try SQLiteConnection(path: directory + "/w.sqlite", mode: .readWriteCreate)
        try ConnectionSetup.configureWriter(connection, busyTimeoutMilliseconds: 1000)
        try connection.execute("CREATE TABLE t (v INTEGER)")
        let syncer = WALSyncer(flush: { () throws(DatabaseError) in try flush.flush() }, logger: storageTestLogger)
        return DatabaseWriter(connection: connection, syncer: syncer, logger: storageTestLogger)
    }

    @Test func aSyncedWriteWaitsForAFlushThatStartedAfterItsCommitWhileOtherWritesGoOn() async throws {
        try await withStorageTestDirectory { directory in
            let flush = HeldFlush()
            let writer = try writer(in: directory, flush: flush)
            let committed = Finished()
            let firstReturned = Finished()
            let first = Task {
                let value = try await writer.write(.synced, committed: { _ in committed.set() }) { connection in
                    try connection.run("INSERT INTO t VALUES (1)")
                    return 1
                }
                firstReturned.set()
                return value
            }
            try await waitForStorage { committed.isSet && flush.flushesStarted == 1 }
            #expect(!firstReturned.isSet, "told at commit, but not returned before the flush")

            // The flush does not hold the writer: a crash-safe write commits and returns meanwhile,
            // and reads see the synced row already.
            let count = try await writer.write(.crashSafe) { connection in
                try connection.run("INSERT INTO t VALUES (2)")
                return try connection.prepare("SELECT count(*) FROM t").queryFirst { $0.int(0) } ?? nil
            }
            #expect(count == 2)

            // Committed during the first flush, so that flush may not answer it: it needs a second.
            let secondReturned = Finished()
            let second = Task {
                try await writer.write(.synced) { try $0.run("INSERT INTO t VALUES (3)") }
                secondReturned.set()
            }
            try await waitForStorage { writer.statistics.jobs == 3 }
            flush.release()
            #expect(try await first.value == 1)
            try await waitForStorage { flush.flushesStarted == 2 }
            #expect(!secondReturned.isSet)
            flush.release()
            try await second.value
            #expect(writer.syncer.statistics == WALSyncer.Statistics(flushes: 2, requests: 2))
            await writer.close()
        }
    }

    @Test func writesThatAskDuringAFlushShareTheNextOne() async throws {
        try await withStorageTestDirectory { directory in
            let flush = HeldFlush()
            let writer = try writer(in: directory, flush: flush)
            let first = Task { try await writer.write { try $0.run("INSERT INTO t VALUES (0)") } }
            try await waitForStorage { flush.flushesStarted == 1 }
            let waiting = (1...20).map { (value: Int) in
                Task { try await writer.write { try $0.run("INSERT INTO t VALUES (?)", value) } }
            }
            try await waitForStorage { writer.statistics.jobs == 21 }
            flush.release()
            try await first.value
            try await waitForStorage { flush.flushesStarted == 2 }
            flush.release()
            for task in waiting { try await task.value }
            #expect(writer.syncer.statistics.flushes == 2, "twenty writes, one flush")
            await writer.close()
        }
    }

    @Test func aFailedFlushFailsItsWritesAndEveryLaterSyncedOneUntilRestart() async throws {
        try await withStorageTestDirectory { directory in
            let flush = HeldFlush()
            let writer = try writer(in: directory, flush: flush)
            let doomed = Task { try await writer.write { try $0.run("INSERT INTO t VALUES (1)") } }
            try await waitForStorage { flush.flushesStarted == 1 }
            flush.release(failing: true)
            let failure = DatabaseError.walSyncFailed(path: "test.sqlite-wal", errno: EIO)
            await #expect(throws: failure) { try await doomed.value }

            // No flush is tried again: after a failed fsync the kernel may have dropped the
            // pages, and a later "success" would not cover them.
            await #expect(throws: failure) { try await writer.write { try $0.run("INSERT INTO t VALUES (2)") } }
            await #expect(throws: failure) { try await writer.checkWritable() }
            #expect(flush.flushesStarted == 1)
            #expect(failure.description.contains("check the disk, then restart"))
            // What needs no flush still works.
            try await writer.write(.crashSafe) { try $0.run("INSERT INTO t VALUES (3)") }
            await writer.close()
        }
    }

    @Test func theRealSyncerFlushesTheConnectionsOwnLog() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(database.writer.syncer.statistics.flushes == 0)
            #expect(try await InboxStore(database: database).store(inboxEntry(1)))
            #expect(database.writer.syncer.statistics.flushes == 1)
            _ = try await database.writer.write(.crashSafe) { _ in }
            #expect(database.writer.syncer.statistics.flushes == 1, "crash-safe writes do not flush")
            await database.close()
        }
    }

    @Test func theLogFileIsReopenedWhenReplacedAndAMissingOneIsAnError() async throws {
        try await withStorageTestDirectory { directory in
            let path = directory + "/x.sqlite-wal"
            try createFile(path)
            let file = WALFile(path: path)
            try file.sync()
            let first = try #require(file.openedInode)

            // Replaced under the same name: the flush must reach the new file, not the old descriptor.
            try createFile(directory + "/replacement")
            #expect(rename(directory + "/replacement", path) == 0)
            try file.sync()
            #expect(file.openedInode != first)
            #expect(file.openedInode == inode(of: path))

            #expect(unlink(path) == 0)
            #expect(throws: DatabaseError.walSyncFailed(path: path, errno: ENOENT)) { try file.sync() }
        }
    }

    private func createFile(_ path: String) throws {
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DatabaseError.walSyncFailed(path: path, errno: errno) }
        _ = write(descriptor, "frames", 6)
        close(descriptor)
    }

    private func inode(of path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }
}
