import ArgumentParser

@main
struct BotServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "botserver",
        abstract: "A Telegram bot that drives Claude Code.",
        subcommands: [ServeCommand.self, WebhookCommand.self, DoctorCommand.self, HealthcheckCommand.self])
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
            try Self.dropRootIfAsked(environment)
            configuration = try Configuration.load(from: environment)
            chat = try ChatSettings.load(
                from: environment, currentDirectory: ProcessEnvironment.currentDirectory(), dataDirectory: configuration.dataDirectory)
        } catch {
            ProcessEnvironment.printError("botserver: \(error)")
            throw ExitCode(2)
        }
        // From here on the secrets live only in this process's memory, and that is closed to
        // the processes of its user: Claude's tools, unless they run as a user of their own.
        let hardening = ProcessHardening.apply()
        for problem in hardening.problems { ProcessEnvironment.printError("botserver: warning: \(problem)") }
        let application = BotApplication(configuration: configuration, chat: chat, hardened: hardening.nonDumpable && hardening.environmentWiped)
        do {
            try await application.run()
        } catch let error as StartupError {
            ProcessEnvironment.printError("botserver: \(error)")
            throw ExitCode(1)
        }
    }
}

extension ServeCommand {
    /// Started as root with CLAUDE_USER: become BOT_USER before anything else (PrivilegeDrop).
    static func dropRootIfAsked(_ environment: Environment) throws {
        let isolation = try IsolationSettings.load(from: environment)
        guard PrivilegeDrop.isNeeded(isolation) else { return }
        let home = environment.optional("CLAUDE_HOME") ?? isolation.claudeUser?.home
        do {
            try PrivilegeDrop.becomeBotUser(
                isolation, dataDirectory: environment.optional("DATA_DIR") ?? "./data",
                workspace: environment.optional("WORKSPACE_ROOT") ?? "./workspace", claudeHome: home)
        } catch {
            throw ConfigurationError(variable: "BOT_USER", problem: error.description)
        }
    }
}
