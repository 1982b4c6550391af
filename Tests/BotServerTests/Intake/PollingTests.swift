import Foundation
import TestSupport
import Testing

@testable import BotServer

/// UPDATE_MODE=polling through the real binary and the fake Bot API.
@Suite(.timeLimit(.minutes(3))) struct PollingTests {
    private func environment(_ fake: FakeBotAPI, _ directory: TemporaryDirectory, port: Int) -> [String: String] {
        var env = BotProcess.environment(
            dataDirectory: directory.path, port: port,
            extra: ["TELEGRAM_API_BASE_URL": fake.baseURL, "UPDATE_MODE": "polling"])
        env["TELEGRAM_WEBHOOK_SECRET"] = nil  // not needed when polling
        return env
    }

    private func message(_ text: String, chat: Int64) -> [String: Any] {
        ["message": ["message_id": 1, "date": 1_700_000_000, "chat": ["id": chat, "type": "private"],
                     "from": ["id": chat, "is_bot": false, "first_name": "A"], "text": text]]
    }

    @Test func polledUpdatesAreStoredDeliveredOnceAndConfirmed() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let ids = try await fake.queueUpdates([message("one", chat: 5), message("two", chat: 5), message("three", chat: 6)])
        #expect(ids.count == 3)

        let (status, log) = try await BotProcess.run(environment: environment(fake, directory, port: port)) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            // The webhook route does not exist when polling.
            #expect(try await BotProcess.postUpdate(port: port, Fixtures.textUpdate(id: 1)).status == 404)
            let polled = await eventually(within: .seconds(30)) { ((try? await fake.calls(method: "getUpdates")) ?? []).count >= 2 }
            try #require(polled, "the bot never polled again to confirm the batch")
            try execution.send(signal: .terminate)
        }
        #expect(status == .exited(0), "\(log)")
        for id in ids { #expect(log.contains("update_id=\(id)") || log.contains("\"update_id\":\"\(id)\"")) }
        #expect(log.components(separatedBy: "update delivered").count - 1 == 3)
        let polls = try await fake.calls(method: "getUpdates")
        #expect(polls[0].params["allowed_updates"] as? [String] == Update.handledKinds)
        #expect((polls[1].params["offset"] as? NSNumber)?.int64Value == ids.max()! + 1, "the batch was confirmed")

        // After a restart the stored offset is used: nothing is fetched or delivered again.
        let second = try await BotProcess.run(environment: environment(fake, directory, port: port)) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            let polled = await eventually(within: .seconds(30)) { ((try? await fake.calls(method: "getUpdates")) ?? []).count >= 3 }
            try #require(polled, "the restarted bot never polled")
            try execution.send(signal: .terminate)
        }
        #expect(second.status == .exited(0))
        #expect(!second.log.contains("update delivered"))
        #expect((try await fake.calls(method: "getUpdates")[2].params["offset"] as? NSNumber)?.int64Value == ids.max()! + 1)
    }

    @Test func aSigtermDuringALongPollStopsAtOnce() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        var stoppedAfter: Duration = .zero
        let (status, log) = try await BotProcess.run(environment: environment(fake, directory, port: port)) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            // The fake lists a call it has not answered yet with no status: the 30 s poll is open.
            let pollOpen = await eventually(within: .seconds(30)) {
                ((try? await fake.calls(method: "getUpdates")) ?? []).contains { $0.status == 0 }
            }
            try #require(pollOpen, "the bot never held a long poll open")
            let clock = ContinuousClock()
            let started = clock.now
            try execution.send(signal: .terminate)
            while (try? await RawHTTPClient.request(port: port, path: "/healthz")) != nil, clock.now - started < .seconds(45) {
                try await Task.sleep(for: .milliseconds(20))
            }
            stoppedAfter = clock.now - started
        }
        #expect(status == .exited(0), "\(log)")
        // Waiting for the poll would take the rest of its 30 s; half of that is far beyond any
        // loaded machine's shutdown and still proves it was cancelled.
        #expect(stoppedAfter < .seconds(15), "the long poll was cancelled, not waited for")
    }

    @Test func pollingWhileAWebhookIsSetSaysHowToFixIt() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        try await fake.setWebhookState(url: "https://bot.example.com/telegram/webhook")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (status, log) = try await BotProcess.run(environment: environment(fake, directory, port: freeLoopbackPort()))
        #expect(status == .exited(1))
        #expect(log.contains("botserver webhook delete"))
        #expect(log.contains("https://bot.example.com/telegram/webhook"))
        #expect(try await fake.calls(method: "getUpdates").isEmpty)
    }

    @Test func aConflictWhilePollingIsReportedAndPollingGoesOn() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        try await fake.script(method: "getUpdates", times: 1, respond: [
            "status": 409, "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        ])
        let ids = try await fake.queueUpdates([message("after the conflict", chat: 9)])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let (status, log) = try await BotProcess.run(environment: environment(fake, directory, port: port)) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            // The poll after the batch confirms it: the update is stored and handed on by then.
            let confirmed = await eventually(within: .seconds(30)) {
                ((try? await fake.calls(method: "getUpdates")) ?? []).contains {
                    ($0.params["offset"] as? NSNumber)?.int64Value == ids[0] + 1
                }
            }
            #expect(confirmed, "polling did not go on after the conflict")
            try execution.send(signal: .terminate)
        }
        #expect(status == .exited(0), "\(log)")
        #expect(log.contains("terminated by other getUpdates request"))
        #expect(log.contains("stop the other instance"))
        #expect(log.contains("update_id=\(ids[0])") || log.contains("\"update_id\":\"\(ids[0])\""))
    }
}
