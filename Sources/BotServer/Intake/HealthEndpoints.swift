import HTTPCore

/// GET /healthz: the process is alive. GET /readyz: it can take updates right now,
/// i.e. the database accepts writes and shutdown has not begun.
struct HealthEndpoints: Sendable {
    let writer: DatabaseWriter
    let isShuttingDown: @Sendable () -> Bool

    func health(_ request: HTTPRequest, _ context: RequestContext) async -> HTTPResponse {
        .text(.ok, "ok")
    }

    func readiness(_ request: HTTPRequest, _ context: RequestContext) async -> HTTPResponse {
        if isShuttingDown() { return .text(.serviceUnavailable, "shutting down") }
        do {
            try await writer.checkWritable()
            return .text(.ok, "ready")
        } catch {
            context.logger.warning("readiness check failed: database not writable", metadata: ["error": "\(error)"])
            return .text(.serviceUnavailable, "database not writable")
        }
    }
}
