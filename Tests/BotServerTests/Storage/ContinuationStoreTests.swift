import Testing

@testable import BotServer

@Suite struct ContinuationStoreTests {
    /// One per conversation, kept across a reopen; only the timer of the current due time
    /// takes it, so a moved or called-off continuation never runs from a stale timer.
    @Test func aContinuationIsKeptMovedTakenOnceAndCalledOff() async throws {
        try await withStorageTestDirectory { directory in
            let chat = ConversationKey(chatID: 42, threadID: nil)
            let topic = ConversationKey(chatID: -100, threadID: 7)
            let before = try Database.open(directory: directory, logger: storageTestLogger)
            let store = ContinuationStore(database: before)
            try await store.schedule(ScheduledContinuation(conversation: chat, dueAt: 5_000, userID: 1001))
            try await store.schedule(ScheduledContinuation(conversation: topic, dueAt: 3_000, userID: 1003))
            try await store.schedule(ScheduledContinuation(conversation: chat, dueAt: 9_000, userID: 1002))  // moved
            await before.close()

            let after = try Database.open(directory: directory, logger: storageTestLogger)
            let reopened = ContinuationStore(database: after)
            #expect(try await reopened.all() == [
                ScheduledContinuation(conversation: topic, dueAt: 3_000, userID: 1003),
                ScheduledContinuation(conversation: chat, dueAt: 9_000, userID: 1002),
            ])
            #expect(try await !reopened.take(chat, dueAt: 5_000), "the timer of the old time takes nothing")
            #expect(try await reopened.take(chat, dueAt: 9_000))
            #expect(try await !reopened.take(chat, dueAt: 9_000), "taken once")
            #expect(try await reopened.cancel(topic))
            #expect(try await !reopened.cancel(topic))
            #expect(try await !reopened.take(topic, dueAt: 3_000), "called off before its timer")
            #expect(try await reopened.all().isEmpty)
            await after.close()
        }
    }
}
