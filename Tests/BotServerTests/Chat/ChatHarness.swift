import ClaudeRunner
import Foundation
import Subprocess
import TestSupport

/// The whole bot as a user meets it: the real `botserver` process, the real `claude` CLI
/// against the scripted fake Anthropic API, and the fake Bot API recording what the bot
/// sends. Updates go in through the webhook, as Telegram sends them.
final class ChatHarness: @unchecked Sendable {
    // Immutable after start, except `nextUpdateID`, which only the test's own task touches.
    static let user: Int64 = 1001  // allowed
    static let admin: Int64 = 1003  // allowed, admin
    static let stranger: Int64 = 999

    /// Who the bot and Claude run as (ToolIsolation). `BOTSERVER_TEST_ISOLATION=separate-user`
    /// runs every harness that way: scripts/test.sh runs the chat suites again so as root.
    enum Isolation: Sendable {
        /// As the test process: root in CI, so tool isolation "none".
        case asTests
        /// The bot started as root with CLAUDE_USER and BOT_USER: it drops to the bot account
        /// and Claude runs as the claude account.
        case separateUser
        /// The whole bot as the bot account, no CLAUDE_USER: "same user, hardened".
        case sameUser

        static var fromEnvironment: Isolation {
            ProcessInfo.processInfo.environment["BOTSERVER_TEST_ISOLATION"] == "separate-user" ? .separateUser : .asTests
        }
    }

    let bot: FakeBotAPI
    let anthropic: FakeAnthropicAPI
    let directory: TemporaryDirectory
    let port: Int
    let isolation: Isolation
    private var nextUpdateID: Int64 = 5000
    private var nextMessageID: Int64 = 100

    var workspace: String { directory.path + "/workspace" }
    var project: String { workspace + "/app" }
    var dataDirectory: String { directory.path + "/data" }
    /// Where a test puts secrets given as files (`*_FILE`), as /run/secrets would hold them.
    var secretsDirectory: String { directory.path + "/secrets" }

    private init(bot: FakeBotAPI, anthropic: FakeAnthropicAPI, directory: TemporaryDirectory, isolation: Isolation) {
        self.bot = bot
        self.anthropic = anthropic
        self.directory = directory
        self.isolation = isolation
        port = freeLoopbackPort()
    }

    /// At most two whole bots (each with its CLIs and fakes) at once: more saturate a small
    /// machine's cores and starve the timing-sensitive tests of other suites running meanwhile.
    static let slots = HarnessSlots(limit: 2)

    static func start(isolation: Isolation = .fromEnvironment) async throws -> ChatHarness {
        if isolation != .asTests && !TestAccounts.available { throw TestSetupError(TestAccounts.skipReason) }
        await slots.acquire()
        do {
            let harness = ChatHarness(
                bot: try await FakeBotAPI.start(), anthropic: try await FakeAnthropicAPI.start(), directory: try TemporaryDirectory(),
                isolation: isolation)
            for folder in ["home", "workspace/app", "workspace/other", "data"] {
                try FileManager.default.createDirectory(atPath: harness.directory.path + "/" + folder, withIntermediateDirectories: true)
            }
            return harness
        } catch {
            await slots.release()
            throw error
        }
    }

    /// Stops the fakes and removes the files on a thread of its own: stopping a child can
    /// wait seconds (a fake still holding a hung request), and a test's `defer` runs on the
    /// cooperative pool, which other suites need meanwhile.
    func stop() {
        let (bot, anthropic, directory) = (bot, anthropic, directory)
        DispatchQueue.global().async {
            bot.stopAndWait()  // before the slot is released: that is what bounds the load
            anthropic.stopAndWait()
            directory.remove()
            Task { await ChatHarness.slots.release() }
        }
    }

    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var accounts: [String: String] = [:]
        if isolation == .separateUser, let bot = TestAccounts.bot, let claude = TestAccounts.claude {
            accounts = ["CLAUDE_USER": claude.name, "BOT_USER": bot.name]
        }
        return BotProcess.environment(dataDirectory: dataDirectory, port: port, extra: accounts.merging([
            "TELEGRAM_API_BASE_URL": bot.baseURL,
            "ALLOWED_USER_IDS": "\(Self.user)",
            "ADMIN_USER_IDS": "\(Self.admin)",
            "WORKSPACE_ROOT": workspace,
            "DEFAULT_PROJECT": "app",
            "PROGRESS_EDIT_INTERVAL_MS": "300",
            "CLAUDE_BIN": ClaudeCLI.testBinary,
            "CLAUDE_HOME": directory.path + "/home",
            "CLAUDE_CODE_MAX_RETRIES": "1",
            "ANTHROPIC_BASE_URL": anthropic.baseURL,
            "ANTHROPIC_API_KEY": "sk-test",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        ] as [String: String]) { $1 }.merging(extra) { $1 })
    }

    /// Gives the harness's files to the accounts of `isolation`, as an operator would: the
    /// projects (and any remote a test made beside them) to Claude's account in a shared,
    /// setgid workspace, DATA_DIR to the bot's, CLAUDE_HOME to Claude's. Run before each start,
    /// so that what a test wrote as root meanwhile is theirs too.
    func handOverFiles() {
        guard let bot = TestAccounts.bot, let claude = TestAccounts.claude else { return }
        chmod(directory.path, 0o755)
        switch isolation {
        case .asTests:
            return
        case .separateUser:
            // The projects are Claude's (as what it and git-as-Claude create would be). A
            // remote a test serves beside them stays the test's, as a real server's would.
            TestAccounts.give(workspace, to: claude.uid, claude.gid)
            TestAccounts.share(workspace)
            TestAccounts.give(directory.path + "/home", to: claude.uid, claude.gid)
            chmod(directory.path + "/home", 0o700)
            // The test's own git (root) looks into those projects too: git refuses a
            // repository another user owns unless told it is safe.
            setenv("GIT_CONFIG_COUNT", "1", 1)
            setenv("GIT_CONFIG_KEY_0", "safe.directory", 1)
            setenv("GIT_CONFIG_VALUE_0", "*", 1)
        case .sameUser:
            TestAccounts.give(directory.path, to: bot.uid, bot.gid)
        }
        // The bot's own: its database, and secret files a test put beside it.
        for folder in [dataDirectory, secretsDirectory] where FileManager.default.fileExists(atPath: folder) {
            TestAccounts.give(folder, to: bot.uid, bot.gid)
            chmod(folder, 0o700)
        }
    }

    /// Runs the bot for `body`, then stops it with SIGTERM (unless `body` killed it).
    @discardableResult
    func run(
        _ extra: [String: String] = [:],
        _ body: @escaping (Execution<NoInput, DiscardedOutput, StringOutput<UTF8>>) async throws -> Void
    ) async throws -> (status: TerminationStatus, log: String) {
        let port = port
        handOverFiles()
        let account = isolation == .sameUser ? TestAccounts.bot : nil
        return try await BotProcess.run(environment: environment(extra), account: account) { execution in
            guard await waitForHTTP(port: port, path: "/readyz") else { throw TestSetupError("the bot did not become ready") }
            try await body(execution)
            try? execution.send(signal: .terminate)
        }
    }

    // MARK: Updates

    /// A text message from `user` in a private chat (chat id = user id), with a
    /// bot_command entity when it starts with "/". Returns the message id.
    @discardableResult
    func send(_ text: String, from user: Int64 = ChatHarness.user, chat: Int64? = nil, forwarded: Bool = false) async throws -> Int64 {
        nextUpdateID += 1
        nextMessageID += 1
        let chatID = chat ?? user
        var message: [String: Any] = [
            "message_id": nextMessageID, "date": 1_764_000_000, "text": text,
            "from": ["id": user, "is_bot": false, "first_name": "Ada"],
            "chat": chatID > 0 ? ["id": chatID, "type": "private", "first_name": "Ada"] : ["id": chatID, "type": "supergroup", "title": "Team"],
        ]
        if text.hasPrefix("/") {
            let command = text.prefix { !$0.isWhitespace }
            message["entities"] = [["type": "bot_command", "offset": 0, "length": command.utf16.count]]
        }
        if forwarded {
            message["forward_origin"] = ["type": "hidden_user", "sender_user_name": "Someone", "date": 1_763_999_000]
        }
        try await post(["update_id": nextUpdateID, "message": message])
        return nextMessageID
    }

    /// A message with media (`photo`, `document`, `voice`, ...) and an optional caption.
    @discardableResult
    func sendMedia(_ fields: [String: Any], caption: String? = nil, mediaGroup: String? = nil, from user: Int64 = ChatHarness.user) async throws -> Int64 {
        nextUpdateID += 1
        nextMessageID += 1
        var message: [String: Any] = [
            "message_id": nextMessageID, "date": 1_764_000_000,
            "from": ["id": user, "is_bot": false, "first_name": "Ada"],
            "chat": ["id": user, "type": "private", "first_name": "Ada"],
        ]
        message.merge(fields) { $1 }
        if let caption { message["caption"] = caption }
        if let mediaGroup { message["media_group_id"] = mediaGroup }
        try await post(["update_id": nextUpdateID, "message": message])
        return nextMessageID
    }

    /// A text message replying to the user's own earlier message `messageID` (e.g. a voice note).
    func replyToOwn(_ messageID: Int64, text: String, voice: [String: Any], from user: Int64 = ChatHarness.user) async throws {
        nextUpdateID += 1
        nextMessageID += 1
        let chat: [String: Any] = ["id": user, "type": "private", "first_name": "Ada"]
        var replied: [String: Any] = ["message_id": messageID, "date": 1_764_000_000, "chat": chat, "from": ["id": user, "is_bot": false, "first_name": "Ada"]]
        replied.merge(voice) { $1 }
        try await post([
            "update_id": nextUpdateID,
            "message": [
                "message_id": nextMessageID, "date": 1_764_000_000, "text": text, "chat": chat,
                "from": ["id": user, "is_bot": false, "first_name": "Ada"], "reply_to_message": replied,
            ] as [String: Any],
        ])
    }

    /// A text message replying to the bot's message `messageID`.
    func replyTo(_ messageID: Int64, text: String, from user: Int64 = ChatHarness.user, chat: Int64? = nil) async throws {
        nextUpdateID += 1
        nextMessageID += 1
        let chatID = chat ?? user
        let chatObject: [String: Any] = chatID > 0 ? ["id": chatID, "type": "private", "first_name": "Ada"] : ["id": chatID, "type": "supergroup", "title": "Team"]
        try await post([
            "update_id": nextUpdateID,
            "message": [
                "message_id": nextMessageID, "date": 1_764_000_000, "text": text, "chat": chatObject,
                "from": ["id": user, "is_bot": false, "first_name": "Ada"],
                "reply_to_message": [
                    "message_id": messageID, "date": 1_764_000_000, "text": "…", "chat": chatObject,
                    "from": ["id": 123_456_789, "is_bot": true, "first_name": "Fake Bot", "username": "fake_bot"],
                ] as [String: Any],
            ] as [String: Any],
        ])
    }

    /// A tap on a button of a message the bot sent. The message comes with its keyboard as
    /// the fake holds it now, as Telegram sends it.
    func tap(_ callbackData: String, on messageID: Int64, from user: Int64 = ChatHarness.user, chat: Int64? = nil) async throws {
        nextUpdateID += 1
        let id = "cbq-\(nextUpdateID)"
        try await bot.registerCallbackQuery(id: id)
        let chatID = chat ?? user
        var message: [String: Any] = [
            "message_id": messageID, "date": 1_764_000_000, "text": "…",
            "chat": ["id": chatID, "type": chatID > 0 ? "private" : "supergroup"],
        ]
        let shown = try await bot.messages(chat: chatID).first { Self.messageID($0) == messageID }
        if let markup = shown?["reply_markup"] as? [String: Any] { message["reply_markup"] = markup }
        try await post([
            "update_id": nextUpdateID,
            "callback_query": [
                "id": id, "chat_instance": "42", "data": callbackData,
                "from": ["id": user, "is_bot": false, "first_name": "Ada"], "message": message,
            ] as [String: Any],
        ])
    }

    func post(_ update: [String: Any]) async throws {
        let body = Array(try JSONSerialization.data(withJSONObject: update))
        let response = try await BotProcess.postUpdate(port: port, body)
        guard response.status == 200 else { throw TestSetupError("webhook answered \(response.status)") }
    }

    // MARK: What the bot sent

    /// Waits for a call matching `predicate`; returns it or nil after `limit`.
    func waitForCall(
        _ method: String, within limit: Duration = .seconds(30), where predicate: @escaping (FakeBotAPI.Call) -> Bool = { _ in true }
    ) async throws -> FakeBotAPI.Call? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let call = try await bot.calls(method: method).first(where: { $0.ok && predicate($0) }) { return call }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// The bot's sent message whose current text contains `text` (edits included).
    func waitForMessage(
        containing text: String, chat: Int64 = ChatHarness.user, within limit: Duration = .seconds(30)
    ) async throws -> [String: Any]? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let message = try await bot.messages(chat: chat).first(where: { ($0["text"] as? String)?.contains(text) == true }) {
                return message
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Waits for Claude's approval question about `action` ("run:\npython3", "write a.txt")
    /// and taps Allow.
    func approve(_ action: String, chat: Int64 = ChatHarness.user) async throws {
        guard let question = try await waitForMessage(containing: "Claude wants to " + action, chat: chat),
            let allow = Self.button("Allow", in: question)
        else { throw TestSetupError("no approval question for \(action)") }
        try await tap(allow, on: Self.messageID(question), from: chat, chat: chat)
    }

    /// callback_data of the button labelled with `label` (a prefix) on `message`.
    static func button(_ label: String, in message: [String: Any]?) -> String? {
        let markup = message?["reply_markup"] as? [String: Any]
        let rows = markup?["inline_keyboard"] as? [[[String: Any]]] ?? []
        return rows.joined().first { ($0["text"] as? String)?.contains(label) == true }?["callback_data"] as? String
    }

    static func messageID(_ message: [String: Any]?) -> Int64 {
        (message?["message_id"] as? NSNumber)?.int64Value ?? 0
    }
}

extension FakeBotAPI {
    func registerCallbackQuery(id: String) async throws {
        let data = try JSONSerialization.data(withJSONObject: ["id": id])
        let response = try await RawHTTPClient.request(
            port: port, method: "POST", path: "/__fake/callback_queries", headers: ["Content-Type": "application/json"], body: Array(data))
        guard response.status == 200 else { throw TestSetupError("fake: \(response.status) \(response.bodyText)") }
    }

    func drafts(chat chatID: Int64) async throws -> [[String: Any]] {
        let response = try await RawHTTPClient.request(port: port, path: "/__fake/chats/\(chatID)/drafts")
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["drafts"] as? [[String: Any]] ?? []
    }

    func reactions(chat chatID: Int64) async throws -> [String: Any] {
        let response = try await RawHTTPClient.request(port: port, path: "/__fake/chats/\(chatID)/reactions")
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["reactions"] as? [String: Any] ?? [:]
    }
}

/// A counting semaphore for test harnesses (released from synchronous `defer`s via a task).
actor HarnessSlots {
    private let limit: Int
    private var used = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        if used < limit {
            used += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { used -= 1 } else { waiters.removeFirst().resume() }
    }
}
