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

    /// A prompt's inbox row commits on the webhook's own thread when the writer is idle (no
    /// thread to wake), and waits its turn on the queue like any write when it is not. Where
    /// the work ran shows in a task-local value: the writer's queue runs outside any task.
    @Test func anInlineWriteRunsInTheCallersTaskOnlyWhenTheWriterIsIdle() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            try await database.writer.write { try $0.execute("CREATE TABLE t (v INTEGER)") }
            let writer = database.writer
            let inline = try await WriteCaller.$name.withValue("webhook") {
                try await writer.write(.crashSafe, inlineWhenIdle: true) { connection in
                    try connection.run("INSERT INTO t (v) VALUES (1)")
                    return WriteCaller.name
                }
            }
            #expect(inline == "webhook", "committed in the caller's task")
            let queued = try await WriteCaller.$name.withValue("webhook") {
                try await writer.write(.crashSafe) { _ in WriteCaller.name }
            }
            #expect(queued == "none", "a write not marked inline goes to the queue")

            let gate = WriterGate()
            let holder = try await gate.hold(writer)
            let behind = Task {
                try await WriteCaller.$name.withValue("webhook") {
                    try await writer.write(.crashSafe, inlineWhenIdle: true) { _ in WriteCaller.name }
                }
            }
            try await waitForStorage { writer.queuedJobs == 1 }
            gate.open()
            #expect(try await behind.value == "none", "queued behind the busy writer")
            try await holder.value
            #expect(try await database.scalar("SELECT count(*) FROM t") == 1)
            await database.close()
        }
    }

    /// `submit` queues the write before it returns (its caller goes on meanwhile) and hands
    /// over the value, or the error, whenever it is awaited.
    @Test func aSubmittedWriteIsQueuedAtOnceAndAwaitedLater() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            try await database.writer.write { try $0.execute("CREATE TABLE t (v INTEGER)") }
            let gate = WriterGate()
            let holder = try await gate.hold(database.writer)
            let inserted = database.writer.submit(.crashSafe) { connection -> Int64 in
                try connection.run("INSERT INTO t (v) VALUES (7)")
                return connection.lastInsertRowID
            }
            let refused = database.writer.submit(.crashSafe) { connection in
                try connection.run("INSERT INTO missing_table (v) VALUES (1)")
            }
            #expect(database.writer.queuedJobs == 2, "queued before submit returned")
            gate.open()
            try await holder.value
            #expect(try await inserted.value == 1)
            await #expect(throws: SQLiteError.self) { try await refused.value }
            // Awaited long after it committed: the value waits.
            let late = database.writer.submit(.crashSafe) { _ in 42 }
            try await waitForStorage { database.writer.queuedJobs == 0 }
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await late.value == 42)
            await database.close()
            await #expect(throws: DatabaseError.closed) { try await database.writer.submit(.crashSafe) { _ in 1 }.value }
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

private enum WriteCaller {
    @TaskLocal static var name = "none"
}
