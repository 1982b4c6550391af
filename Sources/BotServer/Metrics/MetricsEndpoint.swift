import HTTPCore

/// GET /metrics: the Prometheus text exposition. Counts and latencies are not secrets, but
/// they tell an outsider how the bot is used. So a peer on this machine or in this container
/// (a sidecar scraper, `curl` in a shell) is answered, and anyone else needs
/// `Authorization: Bearer $METRICS_TOKEN`. Behind Coolify's proxy every request comes from the
/// proxy, so without a token the endpoint is closed to the internet.
struct MetricsEndpoint: Sendable {
    static let path = "/metrics"

    let metrics: BotMetrics
    /// METRICS_TOKEN; compared in constant time, like the webhook secret.
    let token: WebhookSecret?

    func handle(_ request: HTTPRequest, _ context: RequestContext) async -> HTTPResponse {
        guard isAllowed(request, context) else {
            var response = HTTPResponse.text(.unauthorized, "unauthorized")
            response.headers.add(name: "WWW-Authenticate", value: "Bearer")
            return response
        }
        var response = HTTPResponse(status: .ok, body: metrics.exposition())
        response.headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        return response
    }

    private func isAllowed(_ request: HTTPRequest, _ context: RequestContext) -> Bool {
        if let authorization = request.head.headers["Authorization"], let token {
            let scheme = "Bearer "
            guard authorization.count > scheme.count, authorization.prefix(scheme.count).lowercased() == scheme.lowercased() else {
                return false
            }
            return token.matches(String(authorization.dropFirst(scheme.count)))
        }
        return context.peer.isLoopback
    }
}
