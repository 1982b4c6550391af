import Testing

@testable import BotServer

@Suite struct ConversationStoreTests {
    /// The end of every run looks for a queued prompt: once a conversation's queue is known to
    /// be empty, looking costs no write, and queueing makes it look again.
    @Test func anEmptyQueueIsRememberedUntilSomethingIsQueued() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = ConversationStore(database: database)
            let key = ConversationKey(chatID: 42, threadID: nil)
            let other = ConversationKey(chatID: 43, threadID: 7)

            #expect(try await store.takeQueued(of: key) == nil)
            let afterFirstLook = database.writer.statistics.jobs
            #expect(try await store.takeQueued(of: key) == nil)
            #expect(database.writer.statistics.jobs == afterFirstLook, "known empty: no write")

            _ = try await store.enqueue("first", messageID: 1, userID: 1001, of: key)
            _ = try await store.enqueue("second", messageID: 2, userID: 1001, of: key)
            _ = try await store.enqueue("elsewhere", messageID: 3, userID: 1001, of: other)
            #expect(try await store.takeQueued(of: key)?.text == "first\n\nsecond")
            #expect(try await store.takeQueued(of: key) == nil)
            #expect(try await store.takeQueued(of: other)?.text == "elsewhere")
            await database.close()
        }
    }

    /// Nothing is assumed at start: a prompt queued before a restart is still found.
    @Test func aQueueThatSurvivedARestartIsFound() async throws {
        try await withStorageTestDirectory { directory in
            let key = ConversationKey(chatID: 42, threadID: nil)
            let before = try Database.open(directory: directory, logger: storageTestLogger)
            _ = try await ConversationStore(database: before).enqueue("kept", messageID: 1, userID: 1001, of: key)
            await before.close()

            let after = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await ConversationStore(database: after).takeQueued(of: key)?.text == "kept")
            await after.close()
        }
    }
}
