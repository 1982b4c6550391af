import Testing

@testable import BotServer

@Suite struct MigrationTests {
    @Test func freshDatabaseGetsSchemaAndVersion() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let names = try await database.reader.read { connection in
                try connection.prepare("SELECT name FROM sqlite_master ORDER BY name").query { $0.string(0) ?? "" }
            }
            #expect(Set(names).isSuperset(of: [
                "inbox", "inbox_pending", "rejected_updates", "bot_state", "conversations", "sessions", "runs",
                "queued_prompts", "callbacks", "audit_log", "refusals", "permission_rules", "approvals", "scheduled_continuations",
            ]))
            #expect(try await database.scalar("PRAGMA user_version") == Migrations.latestVersion)
            #expect(Migrations.latestVersion == 6)
            await database.close()
        }
    }

    @Test func appliedMigrationsAreNotRunAgain() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/m.sqlite", mode: .readWriteCreate)
            #expect(try Migrations.apply(to: connection, logger: storageTestLogger) == [1, 2, 3, 4, 5, 6])
            // Running a migration's CREATE TABLE again would fail, so an empty result also
            // shows nothing was executed.
            #expect(try Migrations.apply(to: connection, logger: storageTestLogger) == [])
            let version = Migrations.latestVersion + 1
            let next = Migration(version: version, name: "extra", sql: "CREATE TABLE extra (x INTEGER);")
            #expect(try Migrations.apply(to: connection, migrations: Migrations.all + [next], logger: storageTestLogger) == [version])
            #expect(try Migrations.userVersion(connection) == version)
            connection.close()
        }
    }

    @Test func aVersion1DatabaseIsUpgradedWithItsData() async throws {
        try await withStorageTestDirectory { directory in
            let connection = try SQLiteConnection(path: directory + "/bot.sqlite", mode: .readWriteCreate)
            #expect(try Migrations.apply(to: connection, migrations: Array(Migrations.all.prefix(1)), logger: storageTestLogger) == [1])
            try connection.run(
                "INSERT INTO inbox (update_id, kind, chat_id, thread_id, payload, received_at) VALUES (7, 'message', 1, NULL, x'7b7d', 1)")
            connection.close()
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await database.scalar("PRAGMA user_version") == Migrations.latestVersion)
            #expect(try await InboxStore(database: database).pending().map(\.updateID) == [7])
            try await BotStateStore(database: database).set(.pollingOffset, "8")
            #expect(try await BotStateStore(database: database).value(.pollingOffset) == "8")
            await database.close()
        }
    }

    @Test func reopeningKeepsSchemaAndData() async throws {
        try await withStorageTestDirectory { directory in
            let first = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await InboxStore(database: first).store(inboxEntry(1)))
            await first.close()
            let second = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await second.scalar("PRAGMA user_version") == Migrations.latestVersion)
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
            let broken = Migration(version: Migrations.latestVersion + 1, name: "broken", sql: "CREATE TABLE half (x INTEGER); NOT SQL;")
            #expect(throws: SQLiteError.self) {
                try Migrations.apply(to: connection, migrations: Migrations.all + [broken], logger: storageTestLogger)
            }
            #expect(try Migrations.userVersion(connection) == Migrations.latestVersion)
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
