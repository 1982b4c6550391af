import Logging

/// At start: learns the bot's username (getMe, for "/cmd@bot" and mentions in groups) and
/// publishes the command menu (setMyCommands), retrying with backoff while Telegram is
/// unreachable. Neither blocks start-up: the bot serves private chats without them.
struct BotProfileService: Sendable {
    let api: TelegramBotAPI
    let identity: BotIdentity
    let logger: Logger

    func run() async {
        var failures = 0
        var haveName = false, havePublished = false
        while !Task.isCancelled && !(haveName && havePublished) {
            do {
                if !haveName {
                    let me = try await api.getMe()
                    identity.setUsername(me.username)
                    haveName = true
                    logger.info("bot identity", metadata: ["username": "\(me.username ?? "")", "id": "\(me.id)"])
                }
                if !havePublished {
                    try await api.setMyCommands(BotCommandCatalog.botCommands)
                    havePublished = true
                    logger.info("command menu published", metadata: ["commands": "\(BotCommandCatalog.entries.count)"])
                }
            } catch {
                failures += 1
                let wait = min(Duration.seconds(1) * (1 << min(failures - 1, 6)), .seconds(60))
                logger.warning(
                    "could not set up the bot profile; retrying",
                    metadata: ["attempt": "\(failures)", "retry_in": "\(wait)", "error": "\(error)"])
                try? await Task.sleep(for: wait)
            }
        }
    }
}
