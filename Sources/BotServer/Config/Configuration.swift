import Logging

/// Everything the server reads from its environment, validated once at start.
/// README.md and deploy/.env.example document every variable here.
struct Configuration: Sendable {
    enum LogFormat: Sendable { case text, json }

    var port: Int
    var listenHost: String
    var dataDirectory: String
    var botToken: String
    var webhookSecret: String
    var logLevel: Logger.Level
    var logFormat: LogFormat
    /// Seconds in-flight work may take to finish after SIGTERM before it is cut off.
    var shutdownGracePeriodSeconds: Int

    var databasePath: String { dataDirectory + "/bot.sqlite" }

    static func load(from environment: Environment) throws(ConfigurationError) -> Configuration {
        let token = try environment.required(
            "TELEGRAM_BOT_TOKEN", hint: "the token @BotFather gave you, like 123456:ABC-DEF...")
        guard Self.isWellFormedBotToken(token) else {
            throw ConfigurationError(
                variable: "TELEGRAM_BOT_TOKEN",
                problem: "is not a bot token (expected digits, a colon, then at least 30 letters, digits, - or _)")
        }
        let secret = try environment.required(
            "TELEGRAM_WEBHOOK_SECRET", hint: "1-256 characters of A-Z, a-z, 0-9, _ and -; e.g. `openssl rand -hex 32`")
        guard Self.isValidWebhookSecret(secret) else {
            throw ConfigurationError(
                variable: "TELEGRAM_WEBHOOK_SECRET",
                problem: "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
        }
        return Configuration(
            port: try environment.integer("PORT", default: 8080, range: 0...65535),
            listenHost: environment.optional("LISTEN_HOST") ?? "0.0.0.0",
            dataDirectory: environment.optional("DATA_DIR") ?? "./data",
            botToken: token,
            webhookSecret: secret,
            logLevel: try environment.choice(
                "LOG_LEVEL", default: .info,
                ["trace": .trace, "debug": .debug, "info": .info, "notice": .notice, "warning": .warning,
                 "error": .error, "critical": .critical]),
            logFormat: try environment.choice("LOG_FORMAT", default: .text, ["text": .text, "json": .json]),
            shutdownGracePeriodSeconds: try environment.integer("SHUTDOWN_GRACE_SECONDS", default: 10, range: 0...600))
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
