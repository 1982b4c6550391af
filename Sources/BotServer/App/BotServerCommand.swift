import ArgumentParser

@main
struct BotServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "botserver",
        abstract: "A Telegram bot that drives Claude Code.",
        subcommands: [ServeCommand.self, WebhookCommand.self, DoctorCommand.self])
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the bot: receive Telegram updates on the webhook and handle them.",
        discussion: "Configuration comes from environment variables; see README.md or deploy/.env.example.")

    func run() async throws {
        let configuration: Configuration
        let chat: ChatSettings
        do {
            let environment = try Environment.resolvingSecretFiles(ProcessEnvironment.current())
            configuration = try Configuration.load(from: environment)
            chat = try ChatSettings.load(
                from: environment, currentDirectory: ProcessEnvironment.currentDirectory(), dataDirectory: configuration.dataDirectory)
        } catch {
            ProcessEnvironment.printError("botserver: \(error)")
            throw ExitCode(2)
        }
        let application = BotApplication(configuration: configuration, chat: chat)
        do {
            try await application.run()
        } catch let error as StartupError {
            ProcessEnvironment.printError("botserver: \(error)")
            throw ExitCode(1)
        }
    }
}
