import Foundation
import Synchronization
import Testing
import TestSupport

@testable import BotServer

/// Serialized: these tests compare timings between chats, which parallel suites on two
/// cores would distort.
@Suite(.serialized) struct TelegramOutboxTests {
    /// 50 messages to one chat and 50 spread over five others, all at once: the others finish
    /// long before the first chat's backlog, and nothing is lost, doubled or reordered.
    @Test func aBusyChatDoesNotHoldUpOthers() async throws {
        var pacing = TelegramOutbox.Pacing.fastForTests
        pacing.privateChat = RateLimiter(interval: .milliseconds(40), burst: 2)
        let harness = try await TelegramHarness.start(pacing: pacing)
        defer { harness.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<50 { _ = try await harness.outbox.send(text(1, "busy \(index)")) }
            }
            for chat in Int64(2)...6 {
                group.addTask {
                    for index in 0..<10 { _ = try await harness.outbox.send(text(chat, "other \(index)")) }
                }
            }
            try await group.waitForAll()
        }
        let calls = try await harness.fake.calls(method: "sendMessage")
        #expect(calls.allSatisfy { $0.ok })
        let busy = calls.filter { $0.chatID == 1 }
        #expect(busy.compactMap(\.text) == (0..<50).map { "busy \($0)" })
        for chat in Int64(2)...6 {
            #expect(calls.filter { $0.chatID == chat }.compactMap(\.text) == (0..<10).map { "other \($0)" })
        }
        // At 40 ms a message the other chats need ten slots each, the busy chat fifty: if they
        // do not wait behind its backlog, they are all done before it has sent half of it.
        // Arrival order, not wall time: under CPU contention every latency stretches alike.
        let othersLast = try #require(calls.filter { $0.chatID != 1 }.map(\.seq).max())
        #expect(othersLast < busy[24].seq)
    }

    /// The fake's real flood control: a chat that sends too much gets 429 with retry_after;
    /// only that chat waits, and its messages all arrive once, in order.
    @Test func a429PausesOnlyItsChat() async throws {
        let harness = try await TelegramHarness.start(floodLimit: 5, retryAfter: 1)
        defer { harness.stop() }
        let quietDone = ManagedTime()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<8 { _ = try await harness.outbox.send(text(1, "flood \(index)")) }
            }
            group.addTask {
                // Once chat 1 is flood-blocked: the fake has refused it.
                let blocked = await eventually(within: .seconds(30)) {
                    (try? await harness.fake.calls(method: "sendMessage").contains { $0.chatID == 1 && $0.status == 429 }) == true
                }
                #expect(blocked, "the fake never pushed back")
                for index in 0..<3 { _ = try await harness.outbox.send(text(2, "quiet \(index)")) }
                quietDone.mark()
            }
            try await group.waitForAll()
        }
        let calls = try await harness.fake.calls(method: "sendMessage")
        let flooded = calls.filter { $0.chatID == 1 }
        #expect(flooded.contains { $0.status == 429 }, "the fake did push back")
        #expect(flooded.filter(\.ok).compactMap(\.text) == (0..<8).map { "flood \($0)" })
        let firstRefusal = try #require(flooded.first { $0.status == 429 }?.time)
        let resumed = try #require(flooded.last(where: \.ok)?.time)
        #expect(resumed - firstRefusal >= 0.9, "retry_after was honoured")
        #expect(try #require(quietDone.value) < resumed, "the other chat went on meanwhile")
    }

    @Test func queuedEditsOfOneMessageAreCoalesced() async throws {
        var pacing = TelegramOutbox.Pacing.fastForTests
        // The first edit waits this long for the chat's slot: all ten are queued meanwhile.
        pacing.privateChat = RateLimiter(interval: .seconds(3), burst: 1)
        let harness = try await TelegramHarness.start(pacing: pacing)
        defer { harness.stop() }
        let message = try await harness.outbox.send(text(7, "working"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 1...10 {
                group.addTask {
                    try await harness.outbox.edit(EditMessageText(chatID: 7, messageID: message.messageID, text: "step \(index)"))
                }
                // In order: the next edit only once this one waits in the outbox.
                #expect(await eventually { await harness.outbox.callers(chat: 7) == index }, "edit \(index) was not queued")
            }
            #expect(try await harness.fake.calls(method: "editMessageText").isEmpty, "an edit went before all were queued")
            try await group.waitForAll()
        }
        let edits = try await harness.fake.calls(method: "editMessageText")
        #expect(edits.compactMap(\.text) == ["step 10"], "only the newest text was sent")
        #expect(try await harness.fake.messages(chat: 7).first?["text"] as? String == "step 10")
    }

    /// An edit to what the message already shows is not sent: it would only spend a slot on
    /// "message is not modified".
    @Test func anEditThatChangesNothingIsNotSent() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let message = try await harness.outbox.send(text(3, "same"))
        #expect(try await harness.outbox.edit(EditMessageText(chatID: 3, messageID: message.messageID, text: "same")) == nil)
        #expect(try await harness.outbox.edit(EditMessageText(chatID: 3, messageID: message.messageID, text: "changed")) != nil)
        #expect(try await harness.outbox.edit(EditMessageText(chatID: 3, messageID: message.messageID, text: "changed")) == nil)
        #expect(try await harness.fake.calls(method: "editMessageText").compactMap(\.text) == ["changed"])
    }

    /// A message the outbox did not send (so it does not know its text): Telegram's "not
    /// modified" is a success.
    @Test func notModifiedFromTelegramIsASuccess() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let message = try await harness.api.sendMessage(text(3, "same"))
        let result = try await harness.outbox.edit(EditMessageText(chatID: 3, messageID: message.messageID, text: "same"))
        #expect(result == nil)
        #expect(try await harness.fake.calls(method: "editMessageText").first?.status == 400)
    }

    /// Progress edits (background) never take the chat's last free slot, and an answer
    /// queued after them goes before them: it waits for no progress edit.
    @Test func anAnswerOvertakesProgressEditsAndFindsASlotFree() async throws {
        var pacing = TelegramOutbox.Pacing.fastForTests
        pacing.privateChat = RateLimiter(interval: .milliseconds(800), burst: 3)
        let harness = try await TelegramHarness.start(pacing: pacing)
        defer { harness.stop() }
        let progress = try await harness.outbox.send(text(8, "working"))
        let other = try await harness.api.sendMessage(text(8, "another message"))
        // Two progress messages' edits: one slot is left after the first, which background
        // requests do not take, so the second waits.
        let first = Task {
            try await harness.outbox.edit(EditMessageText(chatID: 8, messageID: progress.messageID, text: "step 1"), priority: .background)
        }
        #expect(await eventually { (try? await harness.fake.calls(method: "editMessageText").count) == 1 })
        let second = Task {
            try await harness.outbox.edit(EditMessageText(chatID: 8, messageID: other.messageID, text: "step 2"), priority: .background)
        }
        #expect(await eventually { await harness.outbox.backlog(chat: 8) == 1 })
        let answer = try await harness.outbox.send(text(8, "the answer"))
        #expect(answer.text == "the answer")
        _ = try await first.value
        _ = try await second.value
        let order = try await harness.fake.calls().filter { $0.method != "sendMessage" || $0.text != "another message" }.compactMap(\.text)
        #expect(order == ["working", "step 1", "the answer", "step 2"])
    }

    /// Once a message got its final content (a foreground edit), a progress edit that comes
    /// after it is stale: dropped, never sent over the final text.
    @Test func aProgressEditAfterTheFinalContentIsDropped() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let message = try await harness.outbox.send(text(9, "working"))
        try await harness.outbox.edit(EditMessageText(chatID: 9, messageID: message.messageID, text: "the answer"))
        #expect(try await harness.outbox.edit(
            EditMessageText(chatID: 9, messageID: message.messageID, text: "working · 1 s"), priority: .background) == nil)
        #expect(try await harness.fake.calls(method: "editMessageText").compactMap(\.text) == ["the answer"])
        #expect(try await harness.fake.messages(chat: 9).first?["text"] as? String == "the answer")
    }

    /// Shutdown: drain waits for what is queued, and gives up at its deadline.
    @Test func drainWaitsForTheQueueUntilItsDeadline() async throws {
        var pacing = TelegramOutbox.Pacing.fastForTests
        pacing.privateChat = RateLimiter(interval: .milliseconds(300), burst: 1)
        let harness = try await TelegramHarness.start(pacing: pacing)
        defer { harness.stop() }
        let sends = Task { for index in 0..<4 { _ = try await harness.outbox.send(text(10, "m\(index)")) } }
        #expect(await eventually { (try? await harness.fake.calls(method: "sendMessage").count) == 1 })
        #expect(await harness.outbox.drain(until: .now + .seconds(30)))
        try await sends.value
        #expect(try await harness.fake.calls(method: "sendMessage").count == 4)
        let blocked = Task { for index in 0..<4 { _ = try await harness.outbox.send(text(11, "n\(index)")) } }
        #expect(await eventually { (try? await harness.fake.calls(method: "sendMessage").count) == 5 })
        #expect(!(await harness.outbox.drain(until: .now)), "a deadline already passed does not wait")
        try await blocked.value
    }

    @Test func anEditThatKeepsFailingGivesWayToLaterMessages() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let message = try await harness.outbox.send(text(4, "start"))
        // A 429 first pauses the chat for a second with the edit still in its lane (a 429 is
        // not a failed attempt): time for the later message to queue behind it. Then every
        // attempt fails.
        try await harness.fake.script(method: "editMessageText", times: 1, respond: ["status": 429, "retry_after": 1])
        try await harness.fake.script(method: "editMessageText", times: 100, respond: ["status": 500])
        let edit = Task { try await harness.outbox.edit(EditMessageText(chatID: 4, messageID: message.messageID, text: "never")) }
        // The edit is queued first: Telegram has had it once (and paused the chat).
        #expect(await eventually { (try? await harness.fake.calls(method: "editMessageText").isEmpty) == false })
        let later = try await harness.outbox.send(text(4, "after the failed edit"))
        #expect(later.text == "after the failed edit")
        await #expect(throws: TelegramError.self) { _ = try await edit.value }
        // The edit gave up after its attempts, and only then did the later message go.
        let attempts = TelegramOutbox.Pacing.fastForTests.maxEditAttempts
        let methods = try await harness.fake.calls().map(\.method)
        #expect(methods == ["sendMessage"] + Array(repeating: "editMessageText", count: 1 + attempts) + ["sendMessage"])
    }

    @Test func serverErrorsAndDroppedConnectionsAreRetried() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        try await harness.fake.script(method: "sendMessage", times: 2, respond: ["status": 500])
        try await harness.fake.script(method: "sendMessage", times: 1, respond: ["close": true])
        let sent = try await harness.outbox.send(text(5, "eventually"))
        #expect(sent.text == "eventually")
        let calls = try await harness.fake.calls(method: "sendMessage")
        #expect(calls.filter(\.ok).count == 1, "delivered once")
        #expect(calls.count >= 3)
    }

    @Test func aRequestTelegramWouldRefuseFailsWithoutBeingSent() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        await #expect(throws: TelegramError.self) { _ = try await harness.outbox.send(text(5, "")) }
        await #expect(throws: TelegramError.self) {
            try await harness.outbox.answer(AnswerCallbackQuery(callbackQueryID: "q", text: String(repeating: "a", count: 201)))
        }
        #expect(try await harness.fake.calls().isEmpty)
    }
}

/// A wall-clock instant set once, readable from another task.
final class ManagedTime: Sendable {
    private let storage = Mutex<Double?>(nil)
    func mark() { storage.withLock { $0 = Date().timeIntervalSince1970 } }
    var value: Double? { storage.withLock { $0 } }
}
