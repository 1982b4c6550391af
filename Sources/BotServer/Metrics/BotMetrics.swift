import CoreMetrics
import Prometheus

/// What the bot counts and times, exported at GET /metrics in Prometheus' text format.
///
/// Instruments are swift-metrics types over a Prometheus factory that belongs to this
/// instance, not the process-wide `MetricsSystem`: the tests run several bots in one process,
/// and the global system can be bootstrapped once only.
final class BotMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    let latency: UpdateLatency

    /// Seconds. Fine below 10 ms, where the bot's own latency targets are, coarse above it.
    static let latencyBuckets: [Duration] = [
        0.000_25, 0.000_5, 0.000_75, 0.001, 0.001_5, 0.002, 0.002_5, 0.003, 0.004, 0.005, 0.006, 0.008, 0.010,
        0.015, 0.025, 0.050, 0.100, 0.250, 0.500, 1, 2.5, 5, 10,
    ].map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }

    enum Name {
        static let webhookRequests = "botserver_webhook_requests_total"
        static let updateToTyping = "botserver_update_to_typing_seconds"
        static let updateToPromptWritten = "botserver_update_to_prompt_written_seconds"
        static let runsFinished = "botserver_runs_finished_total"
        static let telegramRequests = "botserver_telegram_requests_total"
        static let warmSessions = "botserver_warm_sessions"
        static let warmSessionsStopped = "botserver_warm_sessions_stopped_total"
    }

    init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            Name.updateToTyping: Self.latencyBuckets,
            Name.updateToPromptWritten: Self.latencyBuckets,
        ]
        self.registry = registry
        self.factory = factory
        latency = UpdateLatency(
            toTyping: Timer(label: Name.updateToTyping, factory: factory),
            toPromptWritten: Timer(label: Name.updateToPromptWritten, dimensions: [("process", "running")], factory: factory),
            toPromptWrittenStartingProcess: Timer(
                label: Name.updateToPromptWritten, dimensions: [("process", "started")], factory: factory))
    }

    /// How a webhook request ended.
    enum WebhookResult: String, CaseIterable {
        case stored, duplicate, rejected, unauthorized, malformed, unavailable
    }

    func webhookRequest(_ result: WebhookResult) {
        Counter(label: Name.webhookRequests, dimensions: [("result", result.rawValue)], factory: factory).increment()
    }

    /// `outcome`: completed, failed, cancelled, interrupted, ...
    func runFinished(_ outcome: String) {
        Counter(label: Name.runsFinished, dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    /// `result`: ok, or the kind of failure (rate_limited, client_error, server_error, network).
    func telegramRequest(method: String, result: String) {
        Counter(label: Name.telegramRequests, dimensions: [("method", method), ("result", result)], factory: factory)
            .increment()
    }

    /// Claude processes alive now (running or kept warm between runs).
    func warmSessions(_ count: Int) {
        Gauge(label: Name.warmSessions, factory: factory).record(count)
    }

    /// `reason`: limit (beyond MAX_WARM_SESSIONS) or memory (under 10 % available).
    func warmSessionStopped(_ reason: String) {
        Counter(label: Name.warmSessionsStopped, dimensions: [("reason", reason)], factory: factory).increment()
    }

    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
