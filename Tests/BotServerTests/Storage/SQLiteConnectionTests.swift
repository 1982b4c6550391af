import CSQLite
import Testing

@testable import BotServer

@Suite struct SQLiteConnectionTests {
    @Test func bindsAndReadsEveryType() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/t.sqlite", mode: .readWriteCreate)
            defer { connection.close() }
            try connection.execute("CREATE TABLE t (i INTEGER, n INTEGER, d REAL, s TEXT, b BLOB, e TEXT, z BLOB, x)")
            let blob: [UInt8] = [0, 1, 2, 255]
            try connection.run(
                "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                Int64.min, 7, 2.5, "héllo\u{0}wörld", blob, "", [UInt8](), nil)
            #expect(connection.changes == 1)
            #expect(connection.lastInsertRowID == 1)
            let row = try connection.prepare("SELECT i, n, d, s, b, e, z, x FROM t").queryFirst { row in
                (row.int64(0), row.int(1), row.double(2), row.string(3), row.blob(4), row.string(5), row.blob(6), row.isNull(7))
            }
            let values = try #require(row)
            #expect(values.0 == Int64.min)
            #expect(values.1 == 7)
            #expect(values.2 == 2.5)
            #expect(values.3 == "héllo\u{0}wörld")
            #expect(values.4 == blob)
            // Empty text and blobs must stay values, not turn into NULL.
            #expect(values.5 == "")
            #expect(values.6 == [])
            #expect(values.7)
        }
    }

    @Test func preparedStatementsAreCachedAndReset() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/t.sqlite", mode: .readWriteCreate)
            defer { connection.close() }
            try connection.execute("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            let first = try connection.prepare("SELECT v FROM t WHERE v >= ? ORDER BY v")
            try first.bind(2)
            #expect(try first.step())
            #expect(first.int(0) == 2)
            // Left mid-rows on purpose: the next prepare must hand it back reset and unbound.
            let second = try connection.prepare("SELECT v FROM t WHERE v >= ? ORDER BY v")
            #expect(first === second)
            #expect(try second.query(1) { $0.int(0) } == [1, 2, 3])
        }
    }

    @Test func errorsCarryCodesAndContextButNoValues() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/t.sqlite", mode: .readWriteCreate)
            defer { connection.close() }
            try connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
            try connection.run("INSERT INTO t VALUES (?)", "secret-user-text")
            let error = #expect(throws: SQLiteError.self) {
                try connection.run("INSERT INTO t VALUES (?)", "secret-user-text")
            }
            #expect(error?.code == SQLITE_CONSTRAINT)
            #expect(error?.extendedCode == SQLITE_CONSTRAINT | (6 << 8))  // SQLITE_CONSTRAINT_PRIMARYKEY
            #expect(error?.description.contains("INSERT INTO t") == true)
            #expect(error?.description.contains("secret") == false)
            #expect(throws: SQLiteError.self) { try connection.prepare("SELEC nonsense") }
        }
    }

    @Test func closedConnectionThrowsInsteadOfCrashing() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/t.sqlite", mode: .readWriteCreate)
            let statement = try connection.prepare("SELECT 1")
            connection.close()
            connection.close()
            #expect(!connection.isOpen)
            #expect(throws: SQLiteError.self) { try statement.step() }
            #expect(throws: SQLiteError.self) { try connection.execute("SELECT 1") }
        }
    }

    @Test func openingAMissingFileReadOnlyFails() async throws {
        try await withStorageTestDirectory { directory in
            let error = #expect(throws: SQLiteError.self) {
                try SQLiteConnection(path: directory + "/missing.sqlite", mode: .readOnly)
            }
            #expect(error?.code == SQLITE_CANTOPEN)
        }
    }

    @Test func writerConnectionIsWALAndLeavesFlushingToTheSyncer() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, busyTimeoutMilliseconds: 1234, logger: storageTestLogger)
            let settings = try await database.writer.write { connection in
                let read = { (sql: String) in try connection.prepare(sql).queryFirst { $0.string(0) } ?? nil }
                return [
                    try read("PRAGMA journal_mode"), try read("PRAGMA synchronous"),
                    try read("PRAGMA foreign_keys"), try read("PRAGMA busy_timeout"),
                ]
            }
            // synchronous = NORMAL (1): synced writes wait for WALSyncer's flush instead.
            #expect(settings == ["wal", "1", "1", "1234"])
            #expect(try await database.reader.read { try $0.prepare("PRAGMA journal_mode").queryFirst { $0.string(0) } } == "wal")
            await database.close()
        }
    }
}
