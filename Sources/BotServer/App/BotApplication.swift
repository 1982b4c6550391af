import HTTPCore
import Logging
import ServiceLifecycle

/// Wires the parts together and runs them until SIGTERM/SIGINT:
/// database → dispatcher (pending updates resumed) → HTTP server.
/// Shutdown runs the other way: stop HTTP intake, let conversations finish, close the database.
struct BotApplication {
    let configuration: Configuration

    func run() async throws {
        let redactor = Redactor(secrets: [configuration.botToken, configuration.webhookSecret])
        let level = configuration.logLevel
        let format: BotLogHandler.Format = configuration.logFormat == .json ? .json : .text
        LoggingSystem.bootstrap { label in
            BotLogHandler(label: label, level: level, format: format, redactor: redactor)
        }
        let logger = Logger(label: "botserver")

        let database: Database
        do {
            database = try Database.open(directory: configuration.dataDirectory, logger: logger)
        } catch {
            throw StartupError.database(path: configuration.databasePath, underlying: error)
        }
        let store = InboxStore(database: database)
        let dispatcher = Dispatcher(
            store: store, handler: LoggingConversationHandler(logger: Logger(label: "conversation")),
            logger: Logger(label: "dispatcher"))
        do {
            try await dispatcher.resumePending()
        } catch {
            await database.close()
            throw StartupError.database(path: configuration.databasePath, underlying: error)
        }

        let shutdownFlag = ShutdownFlag()
        let server: HTTPServer
        do {
            let httpConfiguration = HTTPServerConfiguration(host: configuration.listenHost, port: configuration.port)
            server = try HTTPServer(
                configuration: httpConfiguration,
                router: Routes.make(
                    webhook: WebhookEndpoint(
                        secret: WebhookSecret(configuration.webhookSecret), store: store, dispatcher: dispatcher),
                    health: HealthEndpoints(writer: database.writer, isShuttingDown: { shutdownFlag.isSet })),
                logger: Logger(label: "http"))
            // Bound now, so an unusable address stops start-up with a clear message; serving
            // starts inside the service group, once SIGTERM and SIGINT are trapped.
            try server.bind()
        } catch {
            await database.close()
            throw StartupError.listen(error)
        }

        let grace = Duration.seconds(configuration.shutdownGracePeriodSeconds)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: DispatcherService(dispatcher: dispatcher, gracePeriod: grace)),
                    .init(service: HTTPService(server: server, gracePeriod: grace, shutdownFlag: shutdownFlag)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        await database.close()
        logger.info("bye")
    }
}
