import Testing

@testable import BotServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct WALCheckpointTests {
    private func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    /// About 1,500 pages of WAL: 300 updates of 20 KB.
    private func fill(_ database: Database) async throws {
        let store = InboxStore(database: database)
        for id in 1...300 {
            var entry = inboxEntry(Int64(id))
            entry.payload = Array(repeating: UInt8(ascii: "x"), count: 20_000)
            _ = try await store.store(entry, committed: nil)
        }
    }

    @Test func theWriterNeverCheckpointsItself() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, checkpointThresholdPages: 1_000_000, logger: storageTestLogger)
            let before = fileSize(database.path)
            try await fill(database)
            // Past SQLite's automatic threshold (1,000 pages), yet nothing was copied into the
            // database file: the commits that crossed it did not checkpoint.
            #expect(fileSize(database.path + "-wal") > 1_000 * 4096)
            #expect(fileSize(database.path) == before)
            #expect(database.checkpointer.statistics.checkpoints == 0)
            await database.close()
            // Closing checkpoints everything and removes the log.
            #expect(fileSize(database.path) > 300 * 20_000)
            #expect(fileSize(database.path + "-wal") == -1)
        }
    }

    @Test func theCheckpointerCopiesTheLogOnceItPassesItsThreshold() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, checkpointThresholdPages: 50, logger: storageTestLogger)
            try await fill(database)
            try await waitForStorage { database.checkpointer.statistics.checkpoints > 0 }
            try await waitForStorage { fileSize(database.path) > 100 * 20_000 }
            #expect(database.checkpointer.statistics.failures == 0)
            #expect(try await database.scalar("SELECT count(*) FROM inbox") == 300)
            await database.close()
        }
    }
}
