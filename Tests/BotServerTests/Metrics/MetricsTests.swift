import CoreMetrics
import HTTPCore
import Logging
import TestSupport
import Testing

@testable import BotServer

@Suite struct MetricsTests {
    private func samples(_ metrics: BotMetrics) -> PrometheusSamples {
        PrometheusSamples(String(decoding: metrics.exposition(), as: UTF8.self))
    }

    @Test func eachUpdateIsTimedOnceFromItsReceipt() {
        let metrics = BotMetrics()
        let received = ContinuousClock.now
        metrics.latency.received(7, at: received)
        metrics.latency.typingIssued(for: 7, at: received + .milliseconds(2))
        metrics.latency.typingIssued(for: 7, at: received + .milliseconds(900))  // a second typing: not the first call
        metrics.latency.promptWritten(for: 7, at: received + .milliseconds(3))
        metrics.latency.promptWritten(for: 7, at: received + .milliseconds(800))  // already recorded
        metrics.latency.typingIssued(for: 8)  // never received (a restart in between): nothing to time
        metrics.latency.promptWritten(for: 8, at: .now)

        let values = samples(metrics)
        #expect(values["botserver_update_to_typing_seconds_count"] == 1)
        #expect(abs((values["botserver_update_to_typing_seconds_sum"] ?? 0) - 0.002) < 1e-9)
        #expect(values[#"botserver_update_to_typing_seconds_bucket{le="0.0015"}"#] == 0)
        #expect(values[#"botserver_update_to_typing_seconds_bucket{le="0.002"}"#] == 1)
        #expect(values[#"botserver_update_to_prompt_written_seconds_count{process="running"}"#] == 1)
        #expect(abs((values[#"botserver_update_to_prompt_written_seconds_sum{process="running"}"#] ?? 0) - 0.003) < 1e-9)
        #expect(metrics.latency.pending == 0, "a receipt is let go once both are recorded")
    }

    @Test func aTypingIssuedAfterThePromptWasWrittenIsStillTimed() {
        let metrics = BotMetrics()
        let received = ContinuousClock.now
        metrics.latency.received(9, at: received)
        metrics.latency.promptWritten(for: 9, at: received + .milliseconds(3))
        #expect(metrics.latency.pending == 1)
        metrics.latency.typingIssued(for: 9, at: received + .milliseconds(4))
        let values = samples(metrics)
        #expect(values["botserver_update_to_typing_seconds_count"] == 1)
        #expect(values.total("botserver_update_to_prompt_written_seconds_count") == 1)
        #expect(metrics.latency.pending == 0)
    }

    private func latency(retention: Duration = .seconds(60), capacity: Int) -> UpdateLatency {
        UpdateLatency(
            toTyping: Timer(label: "t", factory: NOOPMetricsHandler.instance),
            toPromptWritten: Timer(label: "p", factory: NOOPMetricsHandler.instance),
            retention: retention, capacity: capacity)
    }

    @Test func aPromptThatWaitedForItsCLIToStartIsTimedApart() {
        let metrics = BotMetrics()
        let received = ContinuousClock.now
        metrics.latency.received(1, at: received)
        metrics.latency.received(2, at: received)
        metrics.latency.promptWritten(for: 1, at: received + .milliseconds(40), startedProcess: true)
        metrics.latency.promptWritten(for: 2, at: received + .milliseconds(2))
        let values = samples(metrics)
        #expect(values[#"botserver_update_to_prompt_written_seconds_count{process="started"}"#] == 1)
        #expect(values[#"botserver_update_to_prompt_written_seconds_bucket{process="running",le="0.005"}"#] == 1)
        #expect(values[#"botserver_update_to_prompt_written_seconds_bucket{process="started",le="0.005"}"#] == 0)
        #expect(values.total("botserver_update_to_prompt_written_seconds_count") == 2)
    }

    @Test func receiptsThatNeverBecomeAPromptAreDroppedWhenOld() {
        let latency = latency(capacity: 100)
        let start = ContinuousClock.now
        for id in 1...3 { latency.received(Int64(id), at: start) }
        #expect(latency.pending == 3)
        latency.received(4, at: start + .seconds(61))
        #expect(latency.pending == 1)
    }

    /// A flood of updates that never become prompts (a stranger, a group's chatter), all
    /// younger than the retention: the oldest go beyond the capacity, so the map stays bounded
    /// (it grew without bound before, and each receipt filtered all of it).
    @Test func aFloodOfYoungReceiptsIsBoundedByCapacityOldestFirst() {
        let latency = latency(retention: .seconds(600), capacity: 50)
        let start = ContinuousClock.now
        for id in 1...10_000 { latency.received(Int64(id), at: start + .microseconds(id)) }
        #expect(latency.pending == 50)
        #expect(latency.tracked <= 2 * 50 + 64)
        // The newest were kept: a prompt for one of them is still timed, one for an evicted id is not.
        latency.promptWritten(for: 9_990, at: start + .milliseconds(20))
        latency.promptWritten(for: 10, at: start + .milliseconds(20))
        #expect(latency.pending == 50, "9,990 waits for its typing still; 10 was gone")
        latency.typingIssued(for: 9_990, at: start + .milliseconds(21))
        #expect(latency.pending == 49)
    }

    /// Completed prompts behind a receipt that never completes do not pile up in the order list.
    @Test func takenReceiptsBehindAnOldOneAreCompactedAway() {
        let latency = latency(retention: .seconds(600), capacity: 50)
        let start = ContinuousClock.now
        latency.received(1, at: start)
        for id in 2...5_000 {
            let at = start + .microseconds(id)
            latency.received(Int64(id), at: at)
            latency.typingIssued(for: Int64(id), at: at)
            latency.promptWritten(for: Int64(id), at: at)
        }
        #expect(latency.pending == 1)
        #expect(latency.tracked <= 2 * 50 + 1)
    }

    @Test func countersCarryTheirLabels() {
        let metrics = BotMetrics()
        metrics.webhookRequest(.stored)
        metrics.webhookRequest(.stored)
        metrics.webhookRequest(.unauthorized)
        metrics.runFinished("completed")
        metrics.telegramRequest(method: "sendMessage", result: "rate_limited")
        let values = samples(metrics)
        #expect(values[#"botserver_webhook_requests_total{result="stored"}"#] == 2)
        #expect(values[#"botserver_webhook_requests_total{result="unauthorized"}"#] == 1)
        #expect(values[#"botserver_runs_finished_total{outcome="completed"}"#] == 1)
        #expect(values.total("botserver_telegram_requests_total", ["method": "sendMessage", "result": "rate_limited"]) == 1)
    }

    @Test func telegramErrorsAreLabelledByKind() {
        #expect(TelegramError.api(code: 429, description: "Too Many Requests", retryAfter: 3, migrateToChatID: nil).metricsResult == "rate_limited")
        #expect(TelegramError.api(code: 502, description: "Bad Gateway", retryAfter: nil, migrateToChatID: nil).metricsResult == "server_error")
        #expect(TelegramError.api(code: 400, description: "Bad Request", retryAfter: nil, migrateToChatID: nil).metricsResult == "client_error")
        #expect(TelegramError.invalidRequest("too long").metricsResult == "invalid_request")
    }

    // MARK: GET /metrics access

    private func scrape(_ endpoint: MetricsEndpoint, from host: String, authorization: String? = nil) async -> HTTPResponse {
        var headers = HTTPHeaders()
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        let head = HTTPRequestHead(
            method: .GET, target: "/metrics", path: "/metrics", query: nil, version: .http1_1, headers: headers, framing: .none,
            keepAlive: true, expectsContinue: false)
        let request = HTTPRequest(head: head, body: [])
        return await endpoint.handle(request, RequestContext(peer: SocketAddress(host: host, port: 40000), logger: Logger(label: "test")))
    }

    @Test func onlyThisMachineOrTheTokenHolderMayScrape() async {
        let metrics = BotMetrics()
        metrics.webhookRequest(.stored)
        let open = MetricsEndpoint(metrics: metrics, token: nil)
        let local = await scrape(open, from: "127.0.0.1")
        #expect(local.status == .ok)
        #expect(String(decoding: local.body, as: UTF8.self).contains(#"botserver_webhook_requests_total{result="stored"} 1"#))
        #expect(local.headers["Content-Type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(await scrape(open, from: "::1").status == .ok)
        #expect(await scrape(open, from: "::ffff:127.0.0.1").status == .ok)
        // The proxy in front of the bot (Coolify's Traefik) is another container: refused.
        let proxied = await scrape(open, from: "10.0.1.7")
        #expect(proxied.status == .unauthorized)
        #expect(proxied.headers["WWW-Authenticate"] == "Bearer")
        #expect(await scrape(open, from: "10.0.1.7", authorization: "Bearer anything-at-all-1234").status == .unauthorized)

        let token = "scrape-token-0123456789abcdef"
        let guarded = MetricsEndpoint(metrics: metrics, token: WebhookSecret(token))
        #expect(await scrape(guarded, from: "10.0.1.7", authorization: "Bearer \(token)").status == .ok)
        #expect(await scrape(guarded, from: "10.0.1.7", authorization: "bearer \(token)").status == .ok)
        #expect(await scrape(guarded, from: "10.0.1.7", authorization: "Bearer \(token)x").status == .unauthorized)
        #expect(await scrape(guarded, from: "10.0.1.7", authorization: "Basic \(token)").status == .unauthorized)
        #expect(await scrape(guarded, from: "10.0.1.7").status == .unauthorized)
        // A wrong token is wrong wherever it comes from.
        #expect(await scrape(guarded, from: "127.0.0.1", authorization: "Bearer wrong-token-0123456789").status == .unauthorized)
        #expect(await scrape(guarded, from: "127.0.0.1").status == .ok)
    }

    @Test func loopbackIsRecognisedAndNothingElse() {
        for host in ["127.0.0.1", "127.8.9.10", "::1", "::FFFF:127.0.0.1"] { #expect(SocketAddress(host: host, port: 1).isLoopback, "\(host)") }
        for host in ["10.0.0.1", "172.17.0.1", "::2", "::ffff:10.0.0.1", "1127.0.0.1", "unknown"] {
            #expect(!SocketAddress(host: host, port: 1).isLoopback, "\(host)")
        }
    }
}
