import Logging
import Testing

@testable import BotServer

@Suite struct ConfigurationTests {
    static let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    static let valid = ["TELEGRAM_BOT_TOKEN": token, "TELEGRAM_WEBHOOK_SECRET": "s3cret_token-1"]

    @Test func defaultsApply() throws {
        let configuration = try Configuration.load(from: Environment(Self.valid))
        #expect(configuration.port == 8080)
        #expect(configuration.listenHost == "0.0.0.0")
        #expect(configuration.databasePath == "./data/bot.sqlite")
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .text)
    }

    @Test func readsEveryVariable() throws {
        var values = Self.valid
        values["PORT"] = "9000"
        values["LISTEN_HOST"] = "127.0.0.1"
        values["DATA_DIR"] = "/var/lib/bot"
        values["LOG_LEVEL"] = "DEBUG"
        values["LOG_FORMAT"] = "json"
        let configuration = try Configuration.load(from: Environment(values))
        #expect(configuration.port == 9000)
        #expect(configuration.listenHost == "127.0.0.1")
        #expect(configuration.databasePath == "/var/lib/bot/bot.sqlite")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .json)
    }

    @Test(arguments: [
        ("TELEGRAM_BOT_TOKEN", nil, "is required"),
        ("TELEGRAM_BOT_TOKEN", "nocolon", "is not a bot token"),
        ("TELEGRAM_BOT_TOKEN", "12:short", "is not a bot token"),
        ("TELEGRAM_WEBHOOK_SECRET", nil, "is required"),
        ("TELEGRAM_WEBHOOK_SECRET", "has space", "must be 1-256 characters"),
        ("PORT", "http", "must be a whole number"),
        ("PORT", "70000", "must be a whole number"),
        ("LOG_LEVEL", "loud", "must be one of"),
        ("LOG_FORMAT", "xml", "must be one of"),
        ("UPDATE_MODE", "push", "must be one of"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org", "is not an http(s) URL"),
        ("PUBLIC_URL", "http://bot.example.com", "must be the bot's public https:// URL"),
        ("PUBLIC_URL", "https://bot.example.com/?x=1", "must not have a query string"),
        ("WEBHOOK_MAX_CONNECTIONS", "0", "must be a whole number from 1 to 100"),
        ("WEBHOOK_MAX_CONNECTIONS", "101", "must be a whole number from 1 to 100"),
        ("METRICS_TOKEN", "short", "must be 16-256 characters"),
        ("METRICS_TOKEN", "sixteen chars but spaces", "must be 16-256 characters"),
    ] as [(String, String?, String)])
    func aBadValueNamesTheVariable(variable: String, value: String?, problem: String) {
        var values = Self.valid
        values[variable] = value
        do {
            _ = try Configuration.load(from: Environment(values))
            Issue.record("\(variable)=\(value ?? "<unset>") was accepted")
        } catch {
            #expect(error.variable == variable)
            #expect(error.description.contains(problem), "\(error)")
            #expect(!error.description.contains("s3cret"), "a secret leaked into the message")
        }
    }

    @Test func telegramSettings() throws {
        let defaults = try Configuration.load(from: Environment(Self.valid))
        #expect(defaults.updateMode == .webhook)
        #expect(defaults.telegramAPIBaseURL == "https://api.telegram.org")
        #expect(defaults.telegramAPICAFile == nil)
        #expect(defaults.webhookURL == nil)
        #expect(defaults.webhookMaxConnections == 40)

        var values = Self.valid
        values["PUBLIC_URL"] = "https://bot.example.com/"
        values["TELEGRAM_API_BASE_URL"] = "http://127.0.0.1:8081"
        values["TELEGRAM_API_CA_FILE"] = "/etc/ssl/private-ca.pem"
        values["WEBHOOK_MAX_CONNECTIONS"] = "10"
        let configured = try Configuration.load(from: Environment(values))
        #expect(configured.webhookURL == "https://bot.example.com/telegram/webhook")
        #expect(configured.telegramAPIBaseURL == "http://127.0.0.1:8081")
        #expect(configured.telegramAPICAFile == "/etc/ssl/private-ca.pem")
        #expect(configured.webhookMaxConnections == 10)
    }

    @Test func pollingNeedsNoWebhookSecret() throws {
        let configuration = try Configuration.load(
            from: Environment(["TELEGRAM_BOT_TOKEN": Self.token, "UPDATE_MODE": "polling"]))
        #expect(configuration.updateMode == .polling)
        #expect(configuration.webhookSecret == nil)
        #expect(configuration.secrets == [Self.token])
    }

    @Test func theRedactorHidesSecrets() {
        let redactor = Redactor(secrets: [Self.token, "s3cret_token-1"])
        let line = redactor.redact("GET https://api.telegram.org/bot\(Self.token)/getMe secret=s3cret_token-1")
        #expect(!line.contains(Self.token))
        #expect(!line.contains("s3cret_token-1"))
        #expect(line.contains("[REDACTED]"))
    }

    /// The log's redactor is made from `secrets` alone, so it lists the secrets that only
    /// other parts read too.
    @Test func theRedactorCoversSecretsOnlyOtherPartsUse() throws {
        var values = Self.valid
        values["GIT_TOKEN"] = "ghp_gitToken0123456789"
        values["TRANSCRIPTION_API_KEY"] = "sk-transcription-key"
        let configuration = try Configuration.load(from: Environment(values))
        let line = Redactor(secrets: configuration.secrets).redact("push with ghp_gitToken0123456789, transcribe with sk-transcription-key")
        #expect(line == "push with [REDACTED], transcribe with [REDACTED]")
    }
}
