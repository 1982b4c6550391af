import Foundation
import Logging
import Testing
import TestSupport

@testable import BotServer

/// DurableOutbox on a real database and the fake Bot API: what Telegram cannot take now is
/// kept and sent later, in order, once; what another process stored is sent on start.
@Suite(.serialized) struct DurableOutboxTests {
    private static let chat = ConversationKey(chatID: 5, threadID: nil)

    private static func outbox(_ harness: TelegramHarness, _ database: Database, directory: String) -> DurableOutbox {
        var logger = Logger(label: "durable-outbox-test")
        logger.logLevel = .critical
        return DurableOutbox(outbox: harness.outbox, store: OutgoingStore(database: database), temporaryDirectory: directory, logger: logger)
    }

    /// Telegram fails the first part for a while: it and everything stored after it wait, then
    /// go in the order they were stored, each once, and nothing is left pending.
    @Test func partsTelegramCannotTakeWaitAndGoInOrderOnce() async throws {
        try await withStorageTestDirectory { directory in
            let harness = try await TelegramHarness.start()
            defer { harness.stop() }
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = OutgoingStore(database: database)
            let delivery = Self.outbox(harness, database, directory: directory)
            await delivery.setRetryPauses([.milliseconds(300)])
            try await harness.fake.script(method: "sendMessage", times: 1000, respond: ["status": 500])

            let first = try await store.store([.text(html: "one"), .text(html: "two")], for: Self.chat)
            #expect(await delivery.deliver(first) == [nil, nil], "not delivered yet")
            let later = try await store.store([.text(html: "three")], for: Self.chat)
            #expect(await delivery.deliver(later) == [nil], "waits for the parts before it")
            #expect(try await store.pending().count == 3)

            try await harness.fake.clearScripts()
            #expect(await eventually(within: .seconds(20)) { (try? await store.pending())?.isEmpty == true })
            let sent = try await harness.fake.calls(method: "sendMessage").filter(\.ok).compactMap(\.text)
            #expect(sent == ["one", "two", "three"])
            await database.close()
        }
    }

    /// What a killed process stored and never sent goes on the next start; what it had sent
    /// does not go again. A progress message that can no longer be edited gets a new message.
    @Test func whatAnotherProcessLeftIsSentOnStart() async throws {
        try await withStorageTestDirectory { directory in
            let harness = try await TelegramHarness.start()
            defer { harness.stop() }
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = OutgoingStore(database: database)
            let stored = try await store.store(
                [.text(html: "<b>sent before</b>"), .text(html: "the card", replaces: 999), .text(html: "the answer")], for: Self.chat)
            try await store.markSent(stored[0].id, messageID: 1)

            await Self.outbox(harness, database, directory: directory).resumePending()
            let sent = try await harness.fake.calls().filter(\.ok).compactMap(\.text)
            #expect(sent == ["the card", "the answer"], "\(sent)")
            #expect(try await store.pending().isEmpty)
            await database.close()
        }
    }
}

extension DurableOutbox {
    func setRetryPauses(_ pauses: [Duration]) { retryPauses = pauses }
}
