import CSQLite
import Testing

@testable import BotServer

@Suite struct DatabaseWriterTests {
    @Test func concurrentWritesShareTransactions() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            let gate = WriterGate()
            let holder = try await gate.hold(database.writer)

            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in 1...200 { group.addTask { try await store.store(inboxEntry(Int64(id))) } }
                try await waitForStorage { database.writer.queuedJobs == 200 }
                gate.open()
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try await holder.value

            #expect(results.count == 200 && results.allSatisfy { $0 })
            #expect(try await database.scalar("SELECT count(*) FROM inbox") == 200)
            let statistics = database.writer.statistics
            // The holder's own transaction, then all 200 stores in one.
            #expect(statistics.transactions < 200)
            #expect(statistics.transactions == 2)
            #expect(statistics.jobs == 201)
            await database.close()
        }
    }

    @Test func batchesAreCapped() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/w.sqlite", mode: .readWriteCreate)
            try ConnectionSetup.configureWriter(connection, busyTimeoutMilliseconds: 1000)
            try connection.execute("CREATE TABLE t (v INTEGER)")
            let writer = DatabaseWriter(connection: connection, maxBatchSize: 4, logger: storageTestLogger)
            let gate = WriterGate()
            let holder = try await gate.hold(writer)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for value in 1...10 {
                    group.addTask { try await writer.write { try $0.run("INSERT INTO t VALUES (?)", value) } }
                }
                try await waitForStorage { writer.queuedJobs == 10 }
                gate.open()
                try await group.waitForAll()
            }
            try await holder.value
            // 1 for the holder, then 4 + 4 + 2.
            #expect(writer.statistics == DatabaseWriter.Statistics(transactions: 4, jobs: 11))
            await writer.close()
        }
    }

    struct Refused: Error {}

    @Test func failingJobIsRolledBackAloneWhileItsBatchCommits() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            let writer = database.writer
            let gate = WriterGate()
            let holder = try await gate.hold(writer)

            let first = Task { try await store.store(inboxEntry(1)) }
            let violatesCheck = Task {
                try await writer.write { connection in
                    try connection.run(
                        "INSERT INTO inbox (update_id, kind, payload, received_at, state) VALUES (2, 'message', x'', 0, 'bogus')")
                }
            }
            let throwsAfterWriting = Task {
                try await writer.write { connection in
                    try connection.run("INSERT INTO inbox (update_id, kind, payload, received_at) VALUES (3, 'message', x'', 0)")
                    throw Refused()
                }
            }
            let last = Task { try await store.store(inboxEntry(4)) }
            try await waitForStorage { writer.queuedJobs == 4 }
            gate.open()

            #expect(try await first.value)
            #expect(try await last.value)
            let checkError = await #expect(throws: SQLiteError.self) { try await violatesCheck.value }
            #expect(checkError?.extendedCode == SQLITE_CONSTRAINT | (1 << 8))  // SQLITE_CONSTRAINT_CHECK, a macro Swift cannot import
            await #expect(throws: Refused.self) { try await throwsAfterWriting.value }
            try await holder.value

            let ids = try await database.reader.read { try $0.prepare("SELECT update_id FROM inbox ORDER BY 1").query { $0.int64(0) } }
            #expect(ids == [1, 4])
            #expect(writer.statistics == DatabaseWriter.Statistics(transactions: 2, jobs: 3))
            await database.close()
        }
    }

    @Test func closeFinishesQueuedWritesThenRefusesNewOnes() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            let gate = WriterGate()
            let holder = try await gate.hold(database.writer)

            let stored = Task {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for id in 1...5 { group.addTask { try await store.store(inboxEntry(Int64(id))) } }
                    return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
                }
            }
            try await waitForStorage { database.writer.queuedJobs == 5 }
            let closing = Task { await database.close() }
            gate.open()
            await closing.value
            try await holder.value
            #expect(try await stored.value == 5)

            await #expect(throws: DatabaseError.closed) { try await store.store(inboxEntry(6)) }
            await #expect(throws: DatabaseError.closed) { try await database.writer.checkWritable() }
            await #expect(throws: DatabaseError.closed) { try await store.pending() }
            await database.close()

            let reopened = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await reopened.scalar("SELECT count(*) FROM inbox") == 5)
            await reopened.close()
        }
    }

    @Test func checkWritableFailsWhileAnotherConnectionHoldsTheWriteLock() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, busyTimeoutMilliseconds: 100, logger: storageTestLogger)
            try await database.writer.checkWritable()

            let intruder = try SQLiteConnection(path: database.path, mode: .readWrite)
            try intruder.execute("BEGIN EXCLUSIVE")
            let error = await #expect(throws: SQLiteError.self) { try await database.writer.checkWritable() }
            #expect(error?.isBusy == true)
            try intruder.execute("ROLLBACK")
            intruder.close()

            try await database.writer.checkWritable()
            // Probes commit nothing.
            #expect(database.writer.statistics == DatabaseWriter.Statistics(transactions: 0, jobs: 0))
            #expect(try await InboxStore(database: database).store(inboxEntry(1)))
            await database.close()
        }
    }
}
