import Foundation
import HTTPCore
import TestSupport
import Testing

@testable import BotServer

@Suite struct TelegramBotAPITests {
    @Test func methodsRoundTripThroughAValidatingServer() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let me = try await harness.api.getMe()
        #expect(me.isBot)

        let keyboard = InlineKeyboardMarkup([[.callback("Allow", data: "approve:1"), .callback("Deny", data: "deny:1")]])
        let sent = try await harness.api.sendMessage(
            SendMessage(chatID: 42, text: "<b>Run</b> <code>ls &lt;dir&gt;</code>", parseMode: .html, replyMarkup: keyboard))
        #expect(sent.chat.id == 42)
        #expect(sent.text == "Run ls <dir>")

        let edited = try await harness.api.editMessageText(
            EditMessageText(chatID: 42, messageID: sent.messageID, text: "done", parseMode: .html, replyMarkup: keyboard))
        #expect(edited.text == "done")
        _ = try await harness.api.editMessageReplyMarkup(EditMessageReplyMarkup(chatID: 42, messageID: sent.messageID, replyMarkup: nil))
        try await harness.api.sendChatAction(SendChatAction(chatID: 42, action: .typing))
        try await harness.api.setMyCommands([BotCommand(command: "status", description: "What is going on")])
        try await harness.api.deleteMessage(DeleteMessage(chatID: 42, messageID: sent.messageID))

        let calls = try await harness.fake.calls()
        #expect(calls.map(\.method) == ["getMe", "sendMessage", "editMessageText", "editMessageReplyMarkup", "sendChatAction", "setMyCommands", "deleteMessage"])
        #expect(calls.allSatisfy { $0.ok })
    }

    @Test func apiErrorsAreDecodedIntoTypedErrors() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        await #expect(throws: TelegramError.api(code: 400, description: "Bad Request: message to edit not found", retryAfter: nil, migrateToChatID: nil)) {
            _ = try await harness.api.editMessageText(EditMessageText(chatID: 42, messageID: 999, text: "x"))
        }
        try await harness.fake.script(method: "sendMessage", respond: ["status": 429, "retry_after": 7])
        do {
            _ = try await harness.api.sendMessage(text(42, "hi"))
            Issue.record("expected 429")
        } catch {
            #expect(error.retryAfter == 7)
            #expect(error.isRetryable)
        }
        try await harness.fake.script(method: "sendMessage", respond: ["status": 502, "raw": "<html>bad gateway</html>", "content_type": "text/html"])
        do {
            _ = try await harness.api.sendMessage(text(42, "hi"))
            Issue.record("expected a 502")
        } catch {
            guard case .unexpectedResponse(502, let detail) = error else { throw error }
            #expect(detail.contains("bad gateway"))
            #expect(error.isRetryable)
        }
    }

    @Test func theTokenIsNeverInAnError() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let wrong = try TelegramBotAPI(baseURL: harness.fake.baseURL, token: "999:WRONG-TOKEN-secret", http: harness.http)
        do {
            _ = try await wrong.getMe()
            Issue.record("expected 401")
        } catch {
            #expect(error == .api(code: 401, description: "Unauthorized", retryAfter: nil, migrateToChatID: nil))
            #expect(!error.description.contains("WRONG-TOKEN"))
        }
        let unreachable = try TelegramBotAPI(baseURL: "http://127.0.0.1:\(freeLoopbackPort())", token: FakeBotAPI.token, http: harness.http)
        do {
            _ = try await unreachable.getMe()
            Issue.record("expected a connection failure")
        } catch {
            #expect(error.isRetryable)
            #expect(!error.description.contains(FakeBotAPI.token))
        }
    }

    @Test func whatTelegramWouldRefuseIsNotSent() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let longData = String(repeating: "x", count: 65)
        await #expect(throws: TelegramError.invalidRequest("callback data of 65 bytes; Telegram takes 1 to 64")) {
            _ = try await harness.api.sendMessage(SendMessage(chatID: 1, text: "t", replyMarkup: InlineKeyboardMarkup([[.callback("b", data: longData)]])))
        }
        await #expect(throws: TelegramError.self) {
            _ = try await harness.api.sendMessage(text(1, String(repeating: "ü", count: 4097)))
        }
        // 4096 code points is allowed, even when they are emoji outside the BMP.
        _ = try await harness.api.sendMessage(text(1, String(repeating: "🙂", count: 4096)))
        #expect(try await harness.fake.calls(method: "sendMessage").count == 1)
    }

    @Test func htmlLengthIsCountedAsTelegramShowsIt() throws {
        // 4096 visible characters wrapped in tags and entities: more as written, accepted.
        let full = "<b>" + String(repeating: "&lt;", count: 2048) + "</b><i>" + String(repeating: "x", count: 2048) + "</i>"
        try SendMessage(chatID: 1, text: full, parseMode: .html).validate()
        #expect(throws: TelegramError.self) { try SendMessage(chatID: 1, text: full + "y", parseMode: .html).validate() }
        // Without parse_mode the tags are text and count.
        #expect(throws: TelegramError.self) { try SendMessage(chatID: 1, text: full).validate() }
        // The raw text has its own limit of 32,768 bytes.
        let heavy = (0..<2000).map { _ in "<a href=\"https://example.com/\(String(repeating: "p", count: 20))\">x</a>" }.joined()
        #expect(throws: TelegramError.self) { try SendMessage(chatID: 1, text: heavy, parseMode: .html).validate() }
    }

    @Test func aFileIsFetchedWithGetFileAndDownloaded() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let voice = (0..<9_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await harness.fake.registerFile(id: "voice-1", content: voice, path: "voice/file_1.oga")
        let file = try await harness.api.getFile("voice-1")
        #expect(file.filePath == "voice/file_1.oga")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let count = try await harness.api.download(filePath: try #require(file.filePath), to: directory.path + "/v.oga")
        #expect(count == voice.count)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: directory.path + "/v.oga"))) == voice)

        try await harness.fake.registerFile(id: "huge", size: 21 * 1024 * 1024)
        await #expect(throws: TelegramError.api(code: 400, description: "Bad Request: file is too big", retryAfter: nil, migrateToChatID: nil)) {
            _ = try await harness.api.getFile("huge")
        }
    }

    @Test func aDocumentIsUploadedAsMultipart() async throws {
        let harness = try await TelegramHarness.start()
        defer { harness.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/report.txt"
        try "line 1\nline 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let message = try await harness.api.sendFile(
            method: "sendDocument", chatID: 42, messageThreadID: nil, caption: "<b>report</b>",
            file: .init(field: "document", path: path, filename: "report.txt", contentType: "text/plain", size: 14))
        #expect(message.document?.fileName == "report.txt")
        let call = try #require(try await harness.fake.calls(method: "sendDocument").first)
        let document = try #require(call.files["document"] as? [String: Any])
        #expect(document["size"] as? Int == 14)
        // sha256 of "line 1\nline 2\n": the bytes arrived intact.
        #expect(document["sha256"] as? String == "9060554863a62b9db5f726216876654e561896071d2e6480f2048b70e0fdadb9")
    }
}
