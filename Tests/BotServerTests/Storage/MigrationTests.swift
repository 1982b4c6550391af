import Testing

@testable import BotServer

@Suite struct MigrationTests {
    @Test func freshDatabaseGetsSchemaAndVersion() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let names = try await database.reader.read { connection in
                try connection.prepare("SELECT name FROM sqlite_master ORDER BY name").query { $0.string(0) ?? "" }
            }
            #expect(Set(names).isSuperset(of: ["inbox", "inbox_pending", "rejected_updates"]))
            #expect(try await database.scalar("PRAGMA user_version") == Migrations.latestVersion)
            #expect(Migrations.latestVersion == 1)
            await database.close()
        }
    }

    @Test func appliedMigrationsAreNotRunAgain() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/m.sqlite", mode: .readWriteCreate)
            #expect(try Migrations.apply(to: connection, logger: storageTestLogger) == [1])
            // Running migration 1's CREATE TABLE again would fail, so an empty result also
            // shows nothing was executed.
            #expect(try Migrations.apply(to: connection, logger: storageTestLogger) == [])
            let second = Migration(version: 2, name: "extra", sql: "CREATE TABLE extra (x INTEGER);")
            #expect(try Migrations.apply(to: connection, migrations: Migrations.all + [second], logger: storageTestLogger) == [2])
            #expect(try Migrations.userVersion(connection) == 2)
            connection.close()
        }
    }

    @Test func reopeningKeepsSchemaAndData() async throws {
        try await withStorageTestDirectory { directory in
            let first = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await InboxStore(database: first).store(inboxEntry(1)))
            await first.close()
            let second = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await second.scalar("PRAGMA user_version") == 1)
            #expect(try await second.scalar("SELECT count(*) FROM inbox") == 1)
            await second.close()
        }
    }

    @Test func databaseFromNewerVersionIsRefused() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/" + Database.fileName, mode: .readWriteCreate)
            try connection.execute("PRAGMA user_version = 99")
            connection.close()
            let error = #expect(throws: DatabaseError.self) {
                try Database.open(directory: directory, logger: storageTestLogger)
            }
            #expect(error == .schemaTooNew(found: 99, supported: Migrations.latestVersion))
            #expect(error?.description.contains("newer version") == true)
        }
    }

    @Test func failedMigrationLeavesNoTrace() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/m.sqlite", mode: .readWriteCreate)
            let broken = Migration(version: 2, name: "broken", sql: "CREATE TABLE half (x INTEGER); NOT SQL;")
            #expect(throws: SQLiteError.self) {
                try Migrations.apply(to: connection, migrations: Migrations.all + [broken], logger: storageTestLogger)
            }
            #expect(try Migrations.userVersion(connection) == 1)
            let half = try connection.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").queryFirst {
                $0.int(0)
            }
            #expect(half == 0)
            connection.close()
        }
    }

    @Test func createsDataDirectoryOwnerOnly() async throws {
        try await withStorageTestDirectory { directory in
            let nested = directory + "/a/b"
            let database = try Database.open(directory: nested, logger: storageTestLogger)
            await database.close()
            #expect(try storageDirectoryMode(nested) == 0o700)
        }
    }
}
