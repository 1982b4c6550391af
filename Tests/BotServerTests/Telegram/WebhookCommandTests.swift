import Foundation
import TestSupport
import Testing

@testable import BotServer

/// The real binary against the fake Bot API: what an operator runs to manage the webhook,
/// and what `serve` registers by itself.
@Suite(.timeLimit(.minutes(3))) struct WebhookCommandTests {
    private func environment(_ fake: FakeBotAPI, _ directory: TemporaryDirectory, port: Int = 0, extra: [String: String] = [:])
        -> [String: String]
    {
        BotProcess.environment(
            dataDirectory: directory.path, port: port == 0 ? freeLoopbackPort() : port,
            extra: ["TELEGRAM_API_BASE_URL": fake.baseURL, "PUBLIC_URL": "https://bot.example.com/"].merging(extra) { $1 })
    }

    @Test func setInfoAndDelete() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let env = environment(fake, directory)

        let set = try await BotProcess.command(["webhook", "set", "--drop-pending-updates"], environment: env)
        #expect(set.status == .exited(0), "\(set.log)")
        #expect(set.output.contains("webhook set: https://bot.example.com/telegram/webhook"))
        let call = try #require(try await fake.calls(method: "setWebhook").first)
        #expect(call.ok)
        #expect(call.params["url"] as? String == "https://bot.example.com/telegram/webhook")
        #expect(call.params["secret_token"] as? String == BotProcess.secret)
        #expect(call.params["allowed_updates"] as? [String] == Update.handledKinds)
        #expect(call.params["max_connections"] as? Int == 40)
        #expect(call.params["drop_pending_updates"] as? Bool == true)

        let info = try await BotProcess.command(["webhook", "info"], environment: env)
        #expect(info.status == .exited(0))
        #expect(info.output.contains("url: https://bot.example.com/telegram/webhook"))
        #expect(info.output.contains("pending updates: 0"))
        #expect(info.output.contains("last error: none"))
        #expect(!info.output.contains("expected:"))

        let delete = try await BotProcess.command(["webhook", "delete"], environment: env)
        #expect(delete.status == .exited(0))
        #expect(try await fake.calls(method: "deleteWebhook").first?.ok == true)
        let after = try await BotProcess.command(["webhook", "info"], environment: env)
        #expect(after.output.contains("url: (none"))
        #expect(after.output.contains("expected: https://bot.example.com/telegram/webhook"))
        for output in [set.output, set.log, info.output, delete.log] { #expect(!output.contains(BotProcess.token)) }
    }

    @Test func setWithoutAPublicURLExitsWith2() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = environment(fake, directory)
        env["PUBLIC_URL"] = nil
        let result = try await BotProcess.command(["webhook", "set"], environment: env)
        #expect(result.status == .exited(2))
        #expect(result.log.split(separator: "\n").count == 1)
        #expect(result.log.contains("PUBLIC_URL"))
        #expect(try await fake.calls().isEmpty)
    }

    @Test func aTelegramErrorExitsWith1WithoutTheToken() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = environment(fake, directory)
        env["TELEGRAM_BOT_TOKEN"] = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
        let result = try await BotProcess.command(["webhook", "info"], environment: env)
        #expect(result.status == .exited(1))
        #expect(result.log.contains("401"))
        #expect(!result.log.contains("ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"))
    }

    @Test func serveRegistersTheWebhookOnlyWhenItChanged() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let env = environment(fake, directory, port: port)

        // The registration logs when it is done (after a setWebhook, if any): serve's stderr goes
        // to a file the test reads while the server runs, and only then is it stopped.
        var runs = 0
        func serveOnce(_ env: [String: String]) async throws {
            runs += 1
            let logFile = directory.path + "/serve-\(runs).log"
            let log = { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
            let (status, _) = try await BotProcess.run(
                environment: env, launcher: ["sh", "-c", #"log="$1"; shift; exec "$@" 2>>"$log""#, "sh", logFile]
            ) { execution in
                #expect(await waitForHTTP(port: port, path: "/readyz"))
                #expect(await eventually(within: .seconds(30)) {
                    log().contains("webhook registered") || log().contains("webhook already registered")
                }, "the registration finished: \(log())")
                try execution.send(signal: .terminate)
            }
            #expect(status == .exited(0), "\(log())")
        }

        try await serveOnce(env)
        #expect(try await fake.calls(method: "setWebhook").count == 1)
        try await serveOnce(env)
        #expect(try await fake.calls(method: "setWebhook").count == 1, "already registered: not again")

        var rotated = env
        rotated["TELEGRAM_WEBHOOK_SECRET"] = "rotated-secret_987654321"
        try await serveOnce(rotated)
        let calls = try await fake.calls(method: "setWebhook")
        #expect(calls.count == 2, "a new secret must reach Telegram, though getWebhookInfo cannot show it")
        #expect(calls.last?.params["secret_token"] as? String == "rotated-secret_987654321")
    }
}
