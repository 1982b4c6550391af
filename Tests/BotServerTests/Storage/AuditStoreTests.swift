import Testing

@testable import BotServer

@Suite struct AuditStoreTests {
    /// Moves the time `userID` was last told back by `milliseconds`, as the clock moving on
    /// would: the hour is crossed without waiting for it.
    private static func backdate(_ database: Database, userID: Int64, by milliseconds: Int64) async throws {
        try await database.writer.write { connection in
            try connection.run("UPDATE refusals SET last_at = last_at - ? WHERE user_id = ?", milliseconds, userID)
        }
    }

    /// A stranger is told once an hour, whatever they send meanwhile; every attempt is audited.
    @Test func aStrangerIsToldOnceAnHourAndEveryAttemptIsRecorded() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let audit = AuditStore(database: database)
            let hour: Int64 = 3_600_000
            #expect(try await audit.refuse(userID: 999, chatID: 999, detail: "message"), "the first attempt is told")
            #expect(try await !audit.refuse(userID: 999, chatID: 999, detail: "message"), "told again at once")
            #expect(try await audit.refuse(userID: 998, chatID: 998, detail: "message"), "another stranger has an hour of their own")

            try await Self.backdate(database, userID: 999, by: hour - 60_000)  // 59 minutes on
            #expect(try await !audit.refuse(userID: 999, chatID: 999, detail: "message"), "told again within the hour")

            try await Self.backdate(database, userID: 999, by: 60_000)  // the hour is over
            #expect(try await audit.refuse(userID: 999, chatID: 999, detail: "button"), "not told again after the hour")
            #expect(try await !audit.refuse(userID: 999, chatID: 999, detail: "message"), "the next hour starts at the second telling")
            #expect(try await !audit.refuse(userID: 998, chatID: 998, detail: "message"))

            #expect(try await audit.count(event: "refused") == 7)
            await database.close()
        }
    }
}
