import ArgumentParser
import FoundationEssentials
import HTTPCore

/// `botserver webhook set|delete|info`: manage the webhook registration with Telegram.
struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Register, remove or inspect the bot's webhook with Telegram.",
        subcommands: [Set.self, Delete.self, Info.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point Telegram at PUBLIC_URL/telegram/webhook with the secret and the update kinds the bot handles.")

        @Flag(help: "Drop the updates Telegram is still holding for the bot.")
        var dropPendingUpdates = false

        func run() async throws {
            let configuration = try loadConfiguration()
            let registration: WebhookRegistration
            do {
                registration = try WebhookRegistration(configuration: configuration)
            } catch {
                ProcessEnvironment.printError("botserver: \(error)")
                throw ExitCode(2)
            }
            try await withTelegram(configuration) { telegram in
                try await registration.register(api: telegram, dropPendingUpdates: dropPendingUpdates)
                print("webhook set: \(registration.url)")
                if let certificate = registration.certificatePath { print("self-signed certificate uploaded: \(certificate)") }
                print("allowed updates: \(registration.allowedUpdates.joined(separator: ", "))")
                print("max connections: \(registration.maxConnections)")
                if dropPendingUpdates { print("pending updates dropped") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the webhook (needed before UPDATE_MODE=polling).")

        @Flag(help: "Drop the updates Telegram is still holding for the bot.")
        var dropPendingUpdates = false

        func run() async throws {
            let configuration = try loadConfiguration()
            try await withTelegram(configuration) { telegram in
                try await telegram.deleteWebhook(dropPendingUpdates: dropPendingUpdates)
                print("webhook deleted" + (dropPendingUpdates ? "; pending updates dropped" : ""))
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what Telegram has registered and its last delivery error.")

        func run() async throws {
            let configuration = try loadConfiguration()
            try await withTelegram(configuration) { telegram in
                let info = try await telegram.getWebhookInfo()
                print(WebhookCommand.describe(info, expected: configuration.webhookURL))
            }
        }
    }

    static func describe(_ info: WebhookInfo, expected: String?) -> String {
        var lines: [String] = []
        lines.append("url: \(info.url.isEmpty ? "(none: updates are only available through getUpdates)" : info.url)")
        if let expected, info.url != expected { lines.append("expected: \(expected) (run `botserver webhook set`)") }
        lines.append("pending updates: \(info.pendingUpdateCount)")
        if let max = info.maxConnections { lines.append("max connections: \(max)") }
        if let allowed = info.allowedUpdates { lines.append("allowed updates: \(allowed.joined(separator: ", "))") }
        if let date = info.lastErrorDate {
            let age = max(0, Int64(Date().timeIntervalSince1970) - date)
            lines.append("last error: \(info.lastErrorMessage ?? "unknown") (\(age) s ago)")
        } else {
            lines.append("last error: none")
        }
        if info.hasCustomCertificate { lines.append("custom certificate: yes") }
        return lines.joined(separator: "\n")
    }
}

/// Configuration for a one-shot command; a bad value exits 2 with one line, as `serve` does.
func loadConfiguration() throws -> Configuration {
    do {
        return try Configuration.load(from: Environment.resolvingSecretFiles(ProcessEnvironment.current()))
    } catch {
        ProcessEnvironment.printError("botserver: \(error)")
        throw ExitCode(2)
    }
}

/// Runs `body` with a Bot API client; a Telegram failure exits 1 with one line.
func withTelegram(_ configuration: Configuration, _ body: (TelegramBotAPI) async throws -> Void) async throws {
    let http: HTTPClient
    let telegram: TelegramBotAPI
    do {
        (http, telegram) = try BotApplication.telegramClient(configuration)
    } catch {
        ProcessEnvironment.printError("botserver: \(error)")
        throw ExitCode(1)
    }
    defer { http.shutdown() }
    do {
        try await body(telegram)
    } catch let error as TelegramError {
        ProcessEnvironment.printError("botserver: \(error)")
        throw ExitCode(1)
    }
}
