import TestSupport
import Testing

@testable import BotServer

@Suite struct WebhookIntakeTests {
    private func post(_ harness: IntakeHarness, _ body: [UInt8], secret: String? = IntakeHarness.secret) async throws
        -> RawHTTPClient.Response
    {
        var headers = ["Content-Type": "application/json"]
        if let secret { headers["X-Telegram-Bot-Api-Secret-Token"] = secret }
        return try await RawHTTPClient.request(
            port: harness.port, method: "POST", path: "/telegram/webhook", headers: headers, body: body)
    }

    @Test func anUpdateIsStoredThenAcknowledgedThenDelivered() async throws {
        let harness = try await IntakeHarness.start()
        let response = try await post(harness, Fixtures.textUpdate(id: 1001, chatID: 77))
        #expect(response.status == 200)
        // 200 means committed: the row is there the moment the response is.
        #expect(try await harness.store.count(state: nil) == 1)
        #expect(try await harness.handler.waitUntil { $0.count == 1 })
        #expect(harness.handler.deliveries == [.init(updateID: 1001, conversation: ConversationKey(chatID: 77, threadID: nil), attempt: 1)])
        // Two writes for the whole life of the update: stored (with its first attempt counted,
        // and flushed before the 200), then marked handled. No attempt write on the way in.
        #expect(await eventually(within: .seconds(30)) { (try? await harness.store.count(state: .handled)) == 1 },
                "the handled update is marked handled")
        #expect(harness.database.writer.statistics.jobs == 2)
        #expect(harness.database.writer.syncer.statistics.flushes >= 1)
        await harness.stop()
    }

    @Test func anUpdateIsHandedOverAtCommitWhileThe200WaitsForTheFlush() async throws {
        let flush = HeldFlush()
        let harness = try await IntakeHarness.start(flush: { () throws(DatabaseError) in try flush.flush() })
        let answered = Finished()
        let response = Task {
            let response = try await post(harness, Fixtures.textUpdate(id: 3003, chatID: 8))
            answered.set()
            return response
        }
        // The conversation has the update while its row is still only committed...
        #expect(try await harness.handler.waitUntil { $0.map(\.updateID) == [3003] })
        try await waitForStorage { flush.flushesStarted == 1 }
        #expect(!answered.isSet, "...and Telegram has no 200 before the row is on disk")
        flush.release()
        #expect(try await response.value.status == 200)
        for _ in 0..<8 { flush.release() }  // for whatever else asks for a flush until the end
        await harness.stop()
    }

    @Test func aFailedFlushIsAnswered503AndTheBotIsNotReadyUntilRestart() async throws {
        let flush = HeldFlush()
        let harness = try await IntakeHarness.start(flush: { () throws(DatabaseError) in try flush.flush() })
        let first = Task { try await post(harness, Fixtures.textUpdate(id: 4004, chatID: 9)) }
        try await waitForStorage { flush.flushesStarted == 1 }
        flush.release(failing: true)
        #expect(try await first.value.status == 503, "Telegram keeps it and delivers it again")
        // Refused before anything is written: no flush can be trusted any more.
        #expect(try await post(harness, Fixtures.textUpdate(id: 4005, chatID: 9)).status == 503)
        #expect(try await RawHTTPClient.request(port: harness.port, path: "/readyz").status == 503)
        #expect(flush.flushesStarted == 1)
        // The first was committed, so its conversation had it already (a redelivery after the
        // restart is then a duplicate); the second never reached the database.
        #expect(try await harness.handler.waitUntil { $0.map(\.updateID) == [4004] })
        await harness.stop()
    }

    @Test func aWrongOrMissingSecretStoresNothing() async throws {
        let harness = try await IntakeHarness.start()
        #expect(try await post(harness, Fixtures.textUpdate(id: 1), secret: nil).status == 401)
        #expect(try await post(harness, Fixtures.textUpdate(id: 2), secret: "wrong").status == 401)
        #expect(try await post(harness, Fixtures.textUpdate(id: 3), secret: IntakeHarness.secret + "x").status == 401)
        #expect(try await post(harness, Fixtures.textUpdate(id: 4), secret: "").status == 401)
        #expect(try await harness.store.count(state: nil) == 0)
        #expect(harness.handler.deliveries.isEmpty)
        await harness.stop()
    }

    @Test func aDuplicateUpdateIsStoredAndDeliveredOnce() async throws {
        let harness = try await IntakeHarness.start()
        let body = Fixtures.textUpdate(id: 2002)
        for _ in 0..<3 { #expect(try await post(harness, body).status == 200) }
        // Concurrent retries of the same update, too.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<10 { group.addTask { try await post(harness, body).status } }
            for try await status in group { #expect(status == 200) }
        }
        #expect(try await harness.store.count(state: nil) == 1)
        // A later update of the same conversation is delivered after any redelivery of 2002
        // would have been: once it is in, nothing more about 2002 is coming.
        #expect(try await post(harness, Fixtures.textUpdate(id: 2003)).status == 200)
        #expect(try await harness.handler.waitUntil { $0.contains { $0.updateID == 2003 } })
        #expect(harness.handler.deliveries.map(\.updateID) == [2002, 2003])
        await harness.stop()
    }

    @Test func jsonThatIsNotAnUpdateIsKeptAsRejectedAndAcknowledged() async throws {
        let harness = try await IntakeHarness.start()
        #expect(try await post(harness, Array(#"{"hello":"world"}"#.utf8)).status == 200)
        #expect(try await harness.store.count(state: nil) == 0)
        #expect(try await harness.store.rejectedCount() == 1)
        await harness.stop()
    }

    @Test func everyWebhookRequestIsCountedByHowItEnded() async throws {
        let harness = try await IntakeHarness.start(metricsToken: "scrape-token-0123456789")
        #expect(try await post(harness, Fixtures.textUpdate(id: 31, chatID: 5)).status == 200)
        #expect(try await post(harness, Fixtures.textUpdate(id: 31, chatID: 5)).status == 200)
        #expect(try await post(harness, Fixtures.textUpdate(id: 32), secret: "wrong").status == 401)
        #expect(try await post(harness, Array(#"{"hello":"world"}"#.utf8)).status == 200)
        #expect(try await post(harness, Array("update_id=5".utf8)).status == 400)
        #expect(try await harness.handler.waitUntil { $0.count == 1 })

        // Over the real socket: a loopback peer needs no token, a wrong one is refused.
        #expect(try await RawHTTPClient.request(
            port: harness.port, path: "/metrics", headers: ["Authorization": "Bearer wrong-token-0123456789"]).status == 401)
        let scrape = try await RawHTTPClient.request(port: harness.port, path: "/metrics")
        #expect(scrape.status == 200)
        let metrics = PrometheusSamples(scrape.bodyText)
        for (result, count) in ["stored": 1.0, "duplicate": 1, "unauthorized": 1, "rejected": 1, "malformed": 1] {
            #expect(metrics[#"botserver_webhook_requests_total{result="\#(result)"}"#] == count, "\(result)")
        }
        #expect(harness.metrics.latency.pending == 1, "the stored update's receipt waits for its prompt")
        await harness.stop()
    }

    @Test func aBodyThatIsNotJSONGets400() async throws {
        let harness = try await IntakeHarness.start()
        #expect(try await post(harness, Array("update_id=5".utf8)).status == 400)
        #expect(try await harness.store.count(state: nil) == 0)
        #expect(try await harness.store.rejectedCount() == 0)
        await harness.stop()
    }

    @Test func healthAndReadiness() async throws {
        let harness = try await IntakeHarness.start()
        #expect(try await RawHTTPClient.request(port: harness.port, path: "/healthz").status == 200)
        #expect(try await RawHTTPClient.request(port: harness.port, path: "/readyz").status == 200)
        #expect(try await RawHTTPClient.request(port: harness.port, method: "GET", path: "/telegram/webhook").status == 405)
        await harness.stop()
    }

    @Test func aStuckConversationDoesNotDelayAnother() async throws {
        let handler = RecordingHandler(stuckChats: [666])
        let harness = try await IntakeHarness.start(handler: handler)
        #expect(try await post(harness, Fixtures.textUpdate(id: 10, chatID: 666)).status == 200)
        #expect(try await post(harness, Fixtures.textUpdate(id: 11, chatID: 666)).status == 200)
        #expect(try await handler.waitUntil { $0.contains { $0.updateID == 10 } })
        #expect(try await post(harness, Fixtures.textUpdate(id: 12, chatID: 7)).status == 200)
        #expect(try await handler.waitUntil { $0.contains { $0.updateID == 12 } })
        // The stuck conversation keeps its order: 11 waits behind 10.
        #expect(!handler.deliveries.contains { $0.updateID == 11 })
        handler.release()
        #expect(try await handler.waitUntil { $0.contains { $0.updateID == 11 } })
        let order = handler.deliveries.filter { $0.conversation?.chatID == 666 }.map(\.updateID)
        #expect(order == [10, 11])
        await harness.stop()
    }

    @Test func aBurstForOneConversationWaitsInTheDatabaseNotInMemory() async throws {
        let handler = RecordingHandler(stuckChats: [5])
        let harness = try await IntakeHarness.start(handler: handler, maxQueuedPerLane: 4, maxQueuedTotal: 6)
        // Update 1 first, alone: its delivery hangs and holds the lane while the burst arrives.
        #expect(try await post(harness, Fixtures.textUpdate(id: 1, chatID: 5)).status == 200)
        #expect(try await handler.waitUntil { $0.contains { $0.updateID == 1 } })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 2...50 {
                group.addTask {
                    let response = try await post(harness, Fixtures.textUpdate(id: Int64(id), chatID: 5))
                    #expect(response.status == 200)
                }
            }
            try await group.waitForAll()
        }
        #expect(harness.dispatcher.queuedInMemory <= 4)
        // Another conversation still flows while the first one's backlog sits on disk.
        for id in 101...105 {
            #expect(try await post(harness, Fixtures.textUpdate(id: Int64(id), chatID: 6)).status == 200)
        }
        #expect(try await handler.waitUntil { $0.filter { $0.conversation?.chatID == 6 }.count == 5 })
        #expect(harness.dispatcher.queuedInMemory <= 6)

        handler.release()
        // Update 51, posted after the burst, comes after all of it: once it is delivered, the
        // lane has nothing of the burst left to deliver (again).
        #expect(try await post(harness, Fixtures.textUpdate(id: 51, chatID: 5)).status == 200)
        #expect(try await handler.waitUntil { $0.contains { $0.updateID == 51 } })
        let chat5 = handler.deliveries.filter { $0.conversation?.chatID == 5 }.map(\.updateID)
        // Concurrent requests arrive in any order; the lane still delivers in update_id order.
        #expect(chat5 == Array(1...51).map(Int64.init), "each update once, in update_id order")
        // 51 is marked handled once its handler returns.
        #expect(await eventually { (try? await harness.store.count(state: .pending)) == 0 })
        #expect(harness.dispatcher.queuedInMemory == 0)
        await harness.stop()
    }

    @Test func updatesOfOneConversationAreDeliveredInOrder() async throws {
        let harness = try await IntakeHarness.start()
        for id in 100..<140 {
            #expect(try await post(harness, Fixtures.textUpdate(id: Int64(id), chatID: 5)).status == 200)
        }
        #expect(try await harness.handler.waitUntil { $0.count == 40 })
        #expect(harness.handler.deliveries.map(\.updateID) == Array(100..<140).map(Int64.init))
        await harness.stop()
    }

    @Test func pendingUpdatesAreDeliveredAfterARestart() async throws {
        // Updates stored by a process that stopped before handling them (its handler hung).
        let directory = try TemporaryDirectory()
        let first = try await IntakeHarness.start(handler: RecordingHandler(stuckChats: [1]), directory: directory)
        for id in 1...3 { #expect(try await post(first, Fixtures.textUpdate(id: Int64(id), chatID: 1)).status == 200) }
        #expect(try await first.handler.waitUntil { $0.count == 1 })
        await first.server.shutdown(gracePeriod: .seconds(1))
        await first.dispatcher.drain(gracePeriod: .milliseconds(100))
        await first.database.close()

        let second = try await IntakeHarness.start(directory: directory)
        #expect(try await second.handler.waitUntil { $0.count == 3 })
        #expect(second.handler.deliveries.map(\.updateID) == [1, 2, 3])
        // The webhook counts an update's first attempt when it stores it, so after a restart
        // each is a second attempt: update 1 was being handled, 2 and 3 were waiting behind it.
        // (Handlers treat a later attempt as a possible redelivery: they look for its run.)
        #expect(second.handler.deliveries.map(\.attempt) == [2, 2, 2])
        #expect(first.handler.deliveries.map(\.attempt) == [1], "and the first delivery was attempt 1 without a write of its own")
        #expect(await eventually(within: .seconds(30)) { (try? await second.store.count(state: .handled)) == 3 },
                "all three are marked handled after the restart")
        #expect(try await second.store.count(state: .pending) == 0)
        first.handler.release()
        await second.stop()
    }
}
