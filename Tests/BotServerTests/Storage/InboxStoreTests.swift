import Testing

@testable import BotServer

@Suite struct InboxStoreTests {
    @Test func storesNewUpdatesAndIgnoresDuplicates() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            #expect(try await store.store(inboxEntry(7)))
            var resent = inboxEntry(7)
            resent.payload = Array("other".utf8)
            #expect(try await store.store(resent) == false)
            let pending = try await store.pending()
            #expect(pending.map(\.updateID) == [7])
            #expect(pending.first?.payload == inboxEntry(7).payload)
            await database.close()
        }
    }

    @Test func storedUpdatesSurviveReopening() async throws {
        try await withStorageTestDirectory { directory in
            let first = try Database.open(directory: directory, logger: storageTestLogger)
            #expect(try await InboxStore(database: first).store(inboxEntry(5, chat: -100, thread: 9, receivedAt: 1234)))
            #expect(try await InboxStore(database: first).store(inboxEntry(6, chat: nil)))
            await first.close()

            let second = try Database.open(directory: directory, logger: storageTestLogger)
            let records = try await InboxStore(database: second).pending()
            #expect(records.count == 2)
            let record = try #require(records.first)
            #expect(record.updateID == 5)
            #expect(record.kind == "message")
            #expect(record.conversation == ConversationKey(chatID: -100, threadID: 9))
            #expect(record.conversation?.description == "-100/9")
            #expect(record.payload == inboxEntry(5).payload)
            #expect(record.receivedAt == 1234)
            #expect(record.state == .pending)
            #expect(record.attempts == 1, "stored with its first delivery attempt counted")
            #expect(records.last?.conversation == nil)
            await second.close()
        }
    }

    @Test func deliveryLifecycle() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            for id: Int64 in [30, 10, 20] { #expect(try await store.store(inboxEntry(id))) }
            #expect(try await store.pending().map(\.updateID) == [10, 20, 30])

            // The first attempt was counted by `store`; these are redeliveries.
            #expect(try await store.beginAttempt(updateID: 10) == 2)
            #expect(try await store.beginAttempt(updateID: 10) == 3)
            #expect(try await store.pending().first?.attempts == 3)
            try await store.markHandled(updateID: 10, at: 2_000)
            try await store.markFailed(updateID: 20, error: "boom", at: 3_000)

            #expect(try await store.pending().map(\.updateID) == [30])
            #expect(try await store.beginAttempt(updateID: 10) == nil, "a handled update gets no further attempt")
            #expect(try await store.beginAttempt(updateID: 20) == nil, "nor does one set aside")
            #expect(try await store.count(state: .pending) == 1)
            #expect(try await store.count(state: .handled) == 1)
            #expect(try await store.count(state: .failed) == 1)
            #expect(try await database.reader.read { try $0.prepare("SELECT error FROM inbox WHERE update_id = 20").queryFirst { $0.string(0) } } == "boom")

            await #expect(throws: DatabaseError.noSuchUpdate(updateID: 99)) { try await store.beginAttempt(updateID: 99) }
            await #expect(throws: DatabaseError.noSuchUpdate(updateID: 99)) { try await store.markHandled(updateID: 99, at: 1) }
            await database.close()
        }
    }

    @Test func pendingUpdatesArePagedPerConversation() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            let chatA = ConversationKey(chatID: 1), topic = ConversationKey(chatID: 1, threadID: 7)
            for (id, key) in [(5, chatA), (1, topic), (3, chatA), (4, nil), (2, chatA)] as [(Int64, ConversationKey?)] {
                var entry = inboxEntry(id)
                entry.conversation = key
                #expect(try await store.store(entry))
            }
            #expect(try await store.pending(of: chatA, limit: 2).map(\.updateID) == [2, 3])
            #expect(try await store.pending(of: topic, limit: 10).map(\.updateID) == [1])
            #expect(try await store.pending(of: nil, limit: 10).map(\.updateID) == [4])
            let conversations = try await store.conversationsWithPendingUpdates()
            #expect(Set(conversations.map { $0?.description ?? "none" }) == ["1", "1/7", "none"])
            await database.close()
        }
    }

    @Test func pruningRemovesOnlyFinishedUpdatesOlderThanTheCutoff() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            for id: Int64 in 1...3 { _ = try await store.store(inboxEntry(id, receivedAt: 0)) }
            try await store.markHandled(updateID: 1, at: 1_000)
            try await store.markFailed(updateID: 2, error: "x", at: 2_000)

            #expect(try await store.pruneHandled(before: 1_500) == 1)
            #expect(try await store.pruneHandled(before: 1_500) == 0)
            #expect(try await store.pruneHandled(before: 10_000) == 1)
            #expect(try await store.pending().map(\.updateID) == [3])
            await database.close()
        }
    }

    @Test func rejectedBodiesAreKept() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            try await store.storeRejected(payload: Array("[1]".utf8), reason: "not an object", peer: "10.0.0.1", receivedAt: 5)
            try await store.storeRejected(payload: [], reason: "empty", peer: nil, receivedAt: 6)
            let rows = try await database.reader.read { connection in
                try connection.prepare("SELECT reason, peer, payload FROM rejected_updates ORDER BY id").query {
                    [$0.string(0) ?? "-", $0.string(1) ?? "-", String(decoding: $0.blob(2) ?? [], as: UTF8.self)]
                }
            }
            #expect(rows == [["not an object", "10.0.0.1", "[1]"], ["empty", "-", ""]])
            await database.close()
        }
    }
}
