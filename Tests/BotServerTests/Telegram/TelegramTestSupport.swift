import HTTPCore
import Logging

@testable import BotServer

/// The real Bot API client and outbox, aimed at a fresh fake Bot API.
struct TelegramHarness {
    let fake: FakeBotAPI
    let http: HTTPClient
    let api: TelegramBotAPI
    let outbox: TelegramOutbox

    static func start(
        pacing: TelegramOutbox.Pacing = .fastForTests, floodLimit: Int = 1000, retryAfter: Int = 1
    ) async throws -> TelegramHarness {
        let fake = try await FakeBotAPI.start(floodLimit: floodLimit, retryAfter: retryAfter)
        let http = try HTTPClient()
        let api = try TelegramBotAPI(baseURL: fake.baseURL, token: FakeBotAPI.token, http: http)
        var logger = Logger(label: "telegram-test")
        logger.logLevel = .critical
        return TelegramHarness(fake: fake, http: http, api: api, outbox: TelegramOutbox(api: api, pacing: pacing, logger: logger))
    }

    func stop() {
        http.shutdown()
        fake.stop()
    }
}

extension TelegramOutbox.Pacing {
    /// The production shape (per-chat lanes, bursts, a global pace) at test speed.
    static var fastForTests: TelegramOutbox.Pacing {
        var pacing = TelegramOutbox.Pacing()
        pacing.privateChat = RateLimiter(interval: .milliseconds(20), burst: 3)
        pacing.groupChat = RateLimiter(interval: .milliseconds(40), burst: 2)
        pacing.global = RateLimiter(interval: .milliseconds(2), burst: 30)
        pacing.baseBackoff = .milliseconds(20)
        pacing.maxBackoff = .milliseconds(200)
        return pacing
    }
}

func text(_ chatID: Int64, _ text: String) -> SendMessage {
    SendMessage(chatID: chatID, text: text)
}
