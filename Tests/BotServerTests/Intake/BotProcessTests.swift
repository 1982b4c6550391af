import Foundation
import Subprocess
import TestSupport
import Testing

@testable import BotServer

/// The real executable, as an operator runs it: configuration errors, signals, crashes.
@Suite(.serialized, .timeLimit(.minutes(3))) struct BotProcessTests {
    @Test func aMissingVariableExitsWith2AndOneLineNamingIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var environment = BotProcess.environment(dataDirectory: directory.path, port: freeLoopbackPort())
        environment["TELEGRAM_WEBHOOK_SECRET"] = nil
        let (status, log) = try await BotProcess.run(environment: environment)
        #expect(status == .exited(2))
        let lines = log.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("TELEGRAM_WEBHOOK_SECRET") == true)
        #expect(!log.contains(BotProcess.token))
    }

    @Test func anInvalidTokenIsRefusedWithoutEchoingIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var environment = BotProcess.environment(dataDirectory: directory.path, port: freeLoopbackPort())
        environment["TELEGRAM_BOT_TOKEN"] = "not-a-token-but-secret-looking"
        let (status, log) = try await BotProcess.run(environment: environment)
        #expect(status == .exited(2))
        #expect(log.contains("TELEGRAM_BOT_TOKEN"))
        #expect(!log.contains("not-a-token-but-secret-looking"))
    }

    @Test func sigtermShutsDownGracefullyWithExitCode0AndLogsNoSecrets() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let environment = BotProcess.environment(
            dataDirectory: directory.path, port: port, extra: ["LOG_LEVEL": "trace", "LOG_FORMAT": "json"])
        let (status, log) = try await BotProcess.run(environment: environment) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            #expect(try await BotProcess.postUpdate(port: port, Fixtures.textUpdate(id: 31337)).status == 200)
            #expect(try await RawHTTPClient.request(
                port: port, method: "POST", path: "/telegram/webhook",
                headers: ["X-Telegram-Bot-Api-Secret-Token": "wrong"], body: Fixtures.textUpdate(id: 1)).status == 401)
            try execution.send(signal: .terminate)
        }
        #expect(status == .exited(0))
        #expect(log.contains("\"msg\":\"update delivered\""))
        #expect(log.contains("\"msg\":\"stopped\""))
        #expect(!log.contains(BotProcess.token))
        #expect(!log.contains(BotProcess.secret))
        // Every line is one JSON object.
        for line in log.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(line)")
        }
    }

    /// Readiness must not come before signal handling: an orchestrator (or the benchmark) may
    /// stop the process the moment /readyz first answers, and that must still be graceful.
    @Test func aSigtermAsSoonAsReadyIsStillGraceful() async throws {
        for _ in 0..<3 {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let port = freeLoopbackPort()
            let (status, log) = try await BotProcess.run(
                environment: BotProcess.environment(dataDirectory: directory.path, port: port)
            ) { execution in
                #expect(await waitForHTTP(port: port, path: "/readyz", attempts: 2000, interval: .milliseconds(1)))
                try execution.send(signal: .terminate)
            }
            #expect(status == .exited(0), "\(log)")
        }
    }

    @Test func anAcknowledgedUpdateSurvivesKill9AndIsDeliveredOnceAfterRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let environment = BotProcess.environment(dataDirectory: directory.path, port: port)
        let updateIDs: [Int64] = [9001, 9002, 9003]

        let first = try await BotProcess.run(environment: environment) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            for id in updateIDs {
                #expect(try await BotProcess.postUpdate(port: port, Fixtures.textUpdate(id: id, chatID: id)).status == 200)
            }
            // No grace: the process dies right after the last 200.
            try execution.send(signal: .kill)
        }
        #expect(first.status == .signaled(SIGKILL))

        let second = try await BotProcess.run(environment: environment) { execution in
            #expect(await waitForHTTP(port: port, path: "/readyz"))
            var handled = 0
            for _ in 0..<500 where handled < updateIDs.count {
                handled = try Self.count(in: directory.path, state: "handled")
                try await Task.sleep(for: .milliseconds(20))
            }
            try execution.send(signal: .terminate)
        }
        #expect(second.status == .exited(0))

        #expect(try Self.count(in: directory.path, state: nil) == updateIDs.count)
        #expect(try Self.count(in: directory.path, state: "handled") == updateIDs.count)
        // Nothing lost, nothing delivered twice by one process. A second delivery happens only
        // when the kill fell between handling and marking handled, and then it says it is a retry.
        for id in updateIDs {
            func deliveries(_ log: String) -> [Substring] {
                log.split(separator: "\n").filter { $0.contains("update delivered") && $0.contains("update_id=\(id)") }
            }
            let before = deliveries(first.log)
            let after = deliveries(second.log)
            #expect(before.count <= 1 && after.count <= 1, "update \(id) delivered twice by one process")
            #expect(before.count + after.count >= 1, "update \(id) never delivered")
            if before.count == 1 && after.count == 1 {
                #expect(!after[0].contains("attempt=1"), "a redelivery must carry its attempt number")
            }
        }
    }

    private static func count(in directory: String, state: String?) throws -> Int {
        let connection = try SQLiteConnection(path: directory + "/bot.sqlite", mode: .readOnly)
        defer { connection.close() }
        if let state {
            return try connection.prepare("SELECT count(*) FROM inbox WHERE state = ?").queryFirst(state) { $0.int(0) } ?? 0
        }
        return try connection.prepare("SELECT count(*) FROM inbox").queryFirst { $0.int(0) } ?? 0
    }
}
