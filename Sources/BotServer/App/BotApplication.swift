import HTTPCore
import Logging
import ServiceLifecycle

/// Wires the parts together and runs them until SIGTERM/SIGINT:
/// database → dispatcher (pending updates resumed) → HTTP server → the way updates come in
/// (webhook: registered in the background when PUBLIC_URL is set; polling: a long-poll loop).
/// Shutdown runs the other way: stop intake, let conversations finish, close the database.
struct BotApplication {
    let configuration: Configuration
    let chat: ChatSettings
    /// The process is non-dumpable with its secrets wiped from its environment (ProcessHardening).
    let hardened: Bool

    func run() async throws {
        Self.bootstrapLogging(configuration)
        let logger = Logger(label: "botserver")
        var chat = self.chat
        let isolation = try await Self.isolateTools(configuration, chat, hardened: hardened)
        logger.log(level: isolation.level == .none ? .warning : .notice, "\(isolation.line)")
        chat.claude.sandbox = isolation.claudeSandbox
        chat.git.sandbox = isolation.gitSandbox

        let database: Database
        do {
            database = try Database.open(directory: configuration.dataDirectory, logger: logger)
        } catch {
            throw StartupError.database(path: configuration.databasePath, underlying: error)
        }
        let store = InboxStore(database: database)
        let state = BotStateStore(database: database)
        let metrics = BotMetrics()
        let telegram: TelegramBotAPI
        let http: HTTPClient
        do {
            (http, telegram) = try Self.telegramClient(configuration, metrics: metrics)
        } catch {
            await database.close()
            throw error
        }
        defer { http.shutdown() }

        if configuration.updateMode == .polling {
            do {
                try await Self.checkNoWebhook(telegram, logger: logger)
            } catch {
                await database.close()
                throw error
            }
        }

        let identity = BotIdentity(token: configuration.botToken)
        let outbox = TelegramOutbox(api: telegram, logger: Logger(label: "telegram"))
        let delivery = DurableOutbox(
            outbox: outbox, store: OutgoingStore(database: database), temporaryDirectory: chat.temporaryDirectory,
            logger: Logger(label: "chat"))
        logger.info("warm Claude sessions: \(chat.warmSessions)")
        let warmSessions = WarmSessionPool(capacity: chat.warmSessions.count, metrics: metrics, logger: Logger(label: "chat"))
        let chatService = ChatService(context: ChatContext(
            settings: chat, outbox: outbox, delivery: delivery, api: telegram, http: http,
            conversations: ConversationStore(database: database), runs: RunStore(database: database),
            callbacks: CallbackStore(database: database), audit: AuditStore(database: database),
            permissions: PermissionStore(database: database), continuations: ContinuationStore(database: database),
            slots: RunSlots(capacity: chat.maxConcurrentRuns), shutdown: ShutdownState(), warmSessions: warmSessions, identity: identity,
            features: ChatFeatures(drafts: chat.draftStreaming), metrics: metrics, logger: Logger(label: "chat")))
        let dispatcher = Dispatcher(store: store, handler: chatService, logger: Logger(label: "dispatcher"))
        do {
            try DataDirectory.create(chat.temporaryDirectory)
            // Claude's HOME (its login and transcripts) may be a fresh volume's subfolder; a
            // CLAUDE_USER's is made as that user by ToolIsolation.
            if chat.isolation.claudeUser == nil { try DataDirectory.create(chat.claudeHome) }
            // Before any update is handled: what was running when the bot stopped was cut off.
            try await chatService.markInterruptedRuns()
            try await dispatcher.resumePending()
        } catch {
            await database.close()
            throw StartupError.database(path: configuration.databasePath, underlying: error)
        }

        let shutdownFlag = ShutdownFlag()
        let webhook = configuration.updateMode == .webhook
            ? WebhookEndpoint(
                secret: WebhookSecret(configuration.webhookSecret ?? ""), store: store, dispatcher: dispatcher, metrics: metrics)
            : nil
        let server: HTTPServer
        do {
            var httpConfiguration = HTTPServerConfiguration(host: configuration.listenHost, port: configuration.port)
            httpConfiguration.tls = configuration.tls
            server = try HTTPServer(
                configuration: httpConfiguration,
                router: Routes.make(
                    webhook: webhook,
                    health: HealthEndpoints(writer: database.writer, isShuttingDown: { shutdownFlag.isSet }),
                    metrics: MetricsEndpoint(metrics: metrics, token: configuration.metricsToken.map(WebhookSecret.init))),
                logger: Logger(label: "http"))
            // Bound now, so an unusable address stops start-up with a clear message; serving
            // starts inside the service group, once SIGTERM and SIGINT are trapped.
            try server.bind()
        } catch {
            await database.close()
            throw StartupError.listen(error)
        }

        let grace = Duration.seconds(configuration.shutdownGracePeriodSeconds)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: DispatcherService(dispatcher: dispatcher, gracePeriod: grace, afterDrain: { deadline in
                await chatService.stopAll()
                // What is queued for Telegram (answers, replies) goes out within the grace period.
                if !(await outbox.drain(until: deadline)) {
                    Logger(label: "telegram").warning("messages still queued at shutdown; stored answers go after the restart")
                }
            })),
            .init(service: HTTPService(server: server, gracePeriod: grace, shutdownFlag: shutdownFlag)),
        ]
        services.append(.init(service: BackgroundService(name: "bot profile") {
            await BotProfileService(api: telegram, identity: identity, logger: Logger(label: "telegram")).run()
        }))
        services.append(.init(service: BackgroundService(name: "memory watch") {
            await warmSessions.watchMemory(every: .seconds(10))
        }))
        services.append(.init(service: BackgroundService(name: "interrupted runs") {
            await chatService.resumeAfterRestart()
        }))
        switch configuration.updateMode {
        case .webhook:
            if configuration.publicURL != nil {
                let registration = try WebhookRegistration(configuration: configuration)
                services.append(.init(service: BackgroundService(name: "webhook registration") {
                    await WebhookRegistrationService(
                        registration: registration, api: telegram, state: state, logger: Logger(label: "telegram")
                    ).run()
                }))
            }
        case .polling:
            services.append(.init(service: PollingIntake(
                api: telegram, store: store, state: state, dispatcher: dispatcher, metrics: metrics, logger: Logger(label: "polling"))))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await database.close()
        logger.info("bye")
    }

    /// Establishes how Claude's tools are kept from the bot (ToolIsolation): DATA_DIR exists
    /// first, so that it can be checked and covered.
    static func isolateTools(_ configuration: Configuration, _ chat: ChatSettings, hardened: Bool) async throws(StartupError) -> ToolIsolation {
        do {
            try DataDirectory.create(configuration.dataDirectory)
        } catch {
            throw .database(path: configuration.databasePath, underlying: error)
        }
        do {
            return try await ToolIsolation.establish(
                settings: chat.isolation, reaper: chat.claude.reaper, workspace: chat.workspaceRoot,
                claudeHome: chat.isolation.claudeUser == nil ? nil : chat.claudeHome,
                guarded: .init(dataDirectory: configuration.dataDirectory, secretFiles: chat.isolation.secretFiles, sshKey: chat.git.sshKeyPath),
                hardened: hardened, environment: chat.claude.environment)
        } catch {
            throw .isolation(error.description)
        }
    }

    static func bootstrapLogging(_ configuration: Configuration) {
        let redactor = Redactor(secrets: configuration.secrets)
        let level = configuration.logLevel
        let format: BotLogHandler.Format = configuration.logFormat == .json ? .json : .text
        LoggingSystem.bootstrap { label in
            BotLogHandler(label: label, level: level, format: format, redactor: redactor)
        }
    }

    /// The HTTP client and Bot API client every Telegram call goes through.
    static func telegramClient(_ configuration: Configuration, metrics: BotMetrics? = nil) throws(StartupError) -> (HTTPClient, TelegramBotAPI) {
        var httpConfiguration = HTTPClientConfiguration()
        httpConfiguration.trustedCAFile = configuration.telegramAPICAFile
        let http: HTTPClient
        do {
            http = try HTTPClient(configuration: httpConfiguration)
        } catch {
            throw .telegram("cannot set up the HTTP client: \(error)")
        }
        do {
            return (http, try TelegramBotAPI(
                baseURL: configuration.telegramAPIBaseURL, token: configuration.botToken, http: http, metrics: metrics))
        } catch {
            http.shutdown()
            throw .telegram("\(error)")
        }
    }

    /// Telegram refuses getUpdates while a webhook is set: say so before polling, with the fix.
    static func checkNoWebhook(_ telegram: TelegramBotAPI, logger: Logger) async throws(StartupError) {
        let info: WebhookInfo
        do {
            info = try await telegram.getWebhookInfo()
        } catch {
            // Telegram unreachable: polling retries by itself; a 409 then names the cause.
            logger.warning("cannot check the webhook before polling", metadata: ["error": "\(error)"])
            return
        }
        if !info.url.isEmpty {
            throw .webhookActive(url: info.url)
        }
    }
}

/// A task run as a service: ends early without stopping the group, cancelled at shutdown.
struct BackgroundService: Service {
    let name: String
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
        // Finished early (e.g. registered): stay up until shutdown, as the group expects.
        try? await gracefulShutdown()
    }
}
