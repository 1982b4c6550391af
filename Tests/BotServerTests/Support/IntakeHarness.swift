import TestSupport
import HTTPCore
import Logging

@testable import BotServer

/// The real intake (HTTP server, webhook route, SQLite inbox, dispatcher) in-process,
/// on 127.0.0.1 with an ephemeral port and a database in a temporary directory.
struct IntakeHarness {
    static let secret = "test-secret_0123456789"

    let directory: TemporaryDirectory
    let database: Database
    let store: InboxStore
    let dispatcher: Dispatcher
    let server: HTTPServer
    let handler: RecordingHandler
    let metrics: BotMetrics

    var port: Int { server.port }

    static func start(
        handler: RecordingHandler = RecordingHandler(), directory: TemporaryDirectory? = nil,
        maxQueuedPerLane: Int = 32, maxQueuedTotal: Int = 1024, metricsToken: String? = nil,
        flush: WALSyncer.Flush? = nil
    ) async throws -> IntakeHarness {
        let directory = try directory ?? TemporaryDirectory()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let database = try Database.open(directory: directory.path, flush: flush, logger: logger)
        let store = InboxStore(database: database)
        let dispatcher = Dispatcher(
            store: store, handler: handler, maxQueuedPerLane: maxQueuedPerLane, maxQueuedTotal: maxQueuedTotal,
            logger: logger)
        try await dispatcher.resumePending()
        let metrics = BotMetrics()
        let router = Routes.make(
            webhook: WebhookEndpoint(secret: WebhookSecret(secret), store: store, dispatcher: dispatcher, metrics: metrics),
            health: HealthEndpoints(writer: database.writer, isShuttingDown: { false }),
            metrics: MetricsEndpoint(metrics: metrics, token: metricsToken.map(WebhookSecret.init)))
        let server = try HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), router: router, logger: logger)
        try server.start()
        return IntakeHarness(
            directory: directory, database: database, store: store, dispatcher: dispatcher, server: server,
            handler: handler, metrics: metrics)
    }

    /// Stops everything; keeps the directory unless `removeDirectory`.
    func stop(removeDirectory: Bool = true) async {
        await server.shutdown(gracePeriod: .seconds(2))
        await dispatcher.drain(gracePeriod: .seconds(2))
        await database.close()
        if removeDirectory { directory.remove() }
    }
}
