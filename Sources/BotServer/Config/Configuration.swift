import HTTPCore
import Logging

/// Everything the server reads from its environment, validated once at start.
/// README.md and deploy/.env.example document every variable here.
struct Configuration: Sendable {
    enum LogFormat: Sendable { case text, json }
    /// How updates arrive: Telegram POSTs them to our webhook, or we long-poll getUpdates.
    enum UpdateMode: Sendable { case webhook, polling }

    var port: Int
    var listenHost: String
    var dataDirectory: String
    var botToken: String
    /// Required in webhook mode; unused (and optional) when polling.
    var webhookSecret: String?
    var updateMode: UpdateMode
    /// Where the Bot API lives: api.telegram.org, a local Bot API server, or a test fake.
    var telegramAPIBaseURL: String
    /// PEM CA certificates to trust for the Bot API instead of the system store.
    var telegramAPICAFile: String?
    /// The bot's public base URL (behind the proxy); the webhook is PUBLIC_URL/telegram/webhook.
    var publicURL: String?
    /// setWebhook's max_connections: how many webhook requests Telegram sends at once.
    var webhookMaxConnections: Int
    /// Serve HTTPS directly (no proxy) with this PEM certificate chain and key.
    var tls: TLSFiles?
    var logLevel: Logger.Level
    var logFormat: LogFormat
    /// Seconds in-flight work may take to finish after SIGTERM before it is cut off.
    var shutdownGracePeriodSeconds: Int
    /// Lets a scraper that is not on this machine read GET /metrics (as a Bearer token).
    var metricsToken: String?

    var databasePath: String { dataDirectory + "/bot.sqlite" }

    /// The webhook URL Telegram should call, when PUBLIC_URL is set.
    var webhookURL: String? {
        publicURL.map { (($0.hasSuffix("/") ? String($0.dropLast()) : $0)) + WebhookEndpoint.path }
    }

    /// Values that must never reach a log line: every secret that is set (`Environment.secretNames`),
    /// also those only other parts use (GIT_TOKEN, TRANSCRIPTION_API_KEY), since the log's
    /// redactor is made from this list alone.
    var secrets: [String]

    static func load(from environment: Environment) throws(ConfigurationError) -> Configuration {
        let token = try environment.required(
            "TELEGRAM_BOT_TOKEN", hint: "the token @BotFather gave you, like 123456:ABC-DEF...")
        guard Self.isWellFormedBotToken(token) else {
            throw ConfigurationError(
                variable: "TELEGRAM_BOT_TOKEN",
                problem: "is not a bot token (expected digits, a colon, then at least 30 letters, digits, - or _)")
        }
        let updateMode = try environment.choice(
            "UPDATE_MODE", default: UpdateMode.webhook, ["webhook": .webhook, "polling": .polling])
        var secret: String?
        if updateMode == .webhook {
            secret = try environment.required(
                "TELEGRAM_WEBHOOK_SECRET", hint: "1-256 characters of A-Z, a-z, 0-9, _ and -; e.g. `openssl rand -hex 32`")
        } else {
            secret = environment.optional("TELEGRAM_WEBHOOK_SECRET")
        }
        if let secret, !Self.isValidWebhookSecret(secret) {
            throw ConfigurationError(
                variable: "TELEGRAM_WEBHOOK_SECRET",
                problem: "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
        }
        let baseURL = environment.optional("TELEGRAM_API_BASE_URL") ?? "https://api.telegram.org"
        do {
            _ = try HTTPClientURL(baseURL)
        } catch {
            throw ConfigurationError(variable: "TELEGRAM_API_BASE_URL", problem: "is not an http(s) URL (\(error))")
        }
        let publicURL = environment.optional("PUBLIC_URL")
        if let publicURL {
            guard let url = try? HTTPClientURL(publicURL), url.scheme == .https || Self.isLoopback(url.host) else {
                throw ConfigurationError(
                    variable: "PUBLIC_URL",
                    problem: "must be the bot's public https:// URL, like https://bot.example.com (Telegram calls only HTTPS webhooks)")
            }
            guard !publicURL.contains("?") else {
                throw ConfigurationError(variable: "PUBLIC_URL", problem: "must not have a query string")
            }
        }
        let metricsToken = environment.optional("METRICS_TOKEN")
        if let metricsToken, metricsToken.utf8.count < 16 || !Self.isValidWebhookSecret(metricsToken) {
            throw ConfigurationError(
                variable: "METRICS_TOKEN",
                problem: "must be 16-256 characters of A-Z, a-z, 0-9, _ and -; e.g. `openssl rand -hex 32`")
        }
        let certificate = environment.optional("TLS_CERT_FILE")
        let key = environment.optional("TLS_KEY_FILE")
        switch (certificate, key) {
        case (nil, nil), (.some, .some): break
        case (.some, nil):
            throw ConfigurationError(variable: "TLS_KEY_FILE", problem: "is required when TLS_CERT_FILE is set (the certificate's private key, PEM)")
        case (nil, .some):
            throw ConfigurationError(variable: "TLS_CERT_FILE", problem: "is required when TLS_KEY_FILE is set (the certificate chain, PEM)")
        }
        return Configuration(
            port: try environment.integer("PORT", default: 8080, range: 0...65535),
            listenHost: environment.optional("LISTEN_HOST") ?? "0.0.0.0",
            dataDirectory: environment.optional("DATA_DIR") ?? "./data",
            botToken: token,
            webhookSecret: secret,
            updateMode: updateMode,
            telegramAPIBaseURL: baseURL,
            telegramAPICAFile: environment.optional("TELEGRAM_API_CA_FILE"),
            publicURL: publicURL,
            webhookMaxConnections: try environment.integer("WEBHOOK_MAX_CONNECTIONS", default: 40, range: 1...100),
            tls: certificate.flatMap { certificate in key.map { TLSFiles(certificateChainPath: certificate, privateKeyPath: $0) } },
            logLevel: try environment.choice(
                "LOG_LEVEL", default: .info,
                ["trace": .trace, "debug": .debug, "info": .info, "notice": .notice, "warning": .warning,
                 "error": .error, "critical": .critical]),
            logFormat: try environment.choice("LOG_FORMAT", default: .text, ["text": .text, "json": .json]),
            shutdownGracePeriodSeconds: try environment.integer("SHUTDOWN_GRACE_SECONDS", default: 10, range: 0...600),
            metricsToken: metricsToken,
            secrets: Environment.secretNames.compactMap { environment.optional($0) })
    }

    /// Telegram needs HTTPS; a plain-HTTP public URL is accepted only for a local Bot API server or tests.
    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func isWellFormedBotToken(_ token: String) -> Bool {
        let parts = token.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            return false
        }
        return parts[1].utf8.count >= 30 && parts[1].utf8.allSatisfy(Self.isSecretCharacter)
    }

    static func isValidWebhookSecret(_ secret: String) -> Bool {
        (1...256).contains(secret.utf8.count) && secret.utf8.allSatisfy(Self.isSecretCharacter)
    }

    private static func isSecretCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "_"), UInt8(ascii: "-"): return true
        default: return false
        }
    }
}
