import HTTPCore

/// Every HTTP route the bot serves, in one place.
enum Routes {
    /// Telegram's updates are small; 1 MiB leaves room for the largest while bounding memory.
    static let webhookMaxBody = 1 << 20

    /// `webhook` is nil when polling: then nothing is accepted on the webhook path.
    static func make(webhook: WebhookEndpoint?, health: HealthEndpoints, metrics: MetricsEndpoint) -> Router {
        var router = Router(defaultMaxBodyLength: 64 * 1024)
        if let webhook {
            router.add(.POST, WebhookEndpoint.path, maxBodyLength: webhookMaxBody, handler: webhook.handle)
        }
        router.add(.GET, "/healthz", handler: health.health)
        router.add(.GET, "/readyz", handler: health.readiness)
        router.add(.GET, MetricsEndpoint.path, handler: metrics.handle)
        return router
    }
}
