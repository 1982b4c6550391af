import ClaudeRunner
import FoundationEssentials
import HTTPCore

/// The Bot API's methods over HTTPCore's client: one JSON POST per call, multipart for
/// uploads, and file downloads. No pacing or retries here (see `TelegramOutbox`): this
/// layer turns a call into one request and its answer into a value or a `TelegramError`.
///
/// The token is part of every URL path; it never appears in errors or logs, because
/// HTTPClientError only names the origin.
final class TelegramBotAPI: Sendable {
    private let http: HTTPClient
    private let base: HTTPClientURL
    private let token: String
    /// Where the base URL's own path ends (a local Bot API server may sit under a prefix).
    private let basePath: String
    /// Counts every call by method and result, when the bot exports metrics.
    private let metrics: BotMetrics?

    init(baseURL: String, token: String, http: HTTPClient, metrics: BotMetrics? = nil) throws(TelegramError) {
        do {
            base = try HTTPClientURL(baseURL)
        } catch {
            throw .invalidRequest("TELEGRAM_API_BASE_URL: \(error)")
        }
        let path = base.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        basePath = path.hasSuffix("/") ? String(path.dropLast()) : path
        self.token = token
        self.http = http
        self.metrics = metrics
    }

    /// Calls `R.method` with the request as JSON and decodes the result.
    func call<R: TelegramRequest, Result: Decodable & Sendable>(
        _ request: R, as: Result.Type, responseTimeout: Duration? = nil
    ) async throws(TelegramError) -> Result {
        try request.validate()
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(request))
        } catch {
            throw .invalidRequest("cannot encode \(R.method): \(error)")
        }
        let http = HTTPClientRequest(
            method: .POST, url: methodURL(R.method), headers: ["Content-Type": "application/json"], body: .bytes(body))
        return try await send(http, method: R.method, as: Result.self, responseTimeout: responseTimeout)
    }

    /// A file to upload with sendDocument/sendPhoto, streamed from disk.
    struct Upload: Sendable {
        var field: String
        var path: String
        var filename: String
        var contentType: String
        var size: Int
    }

    /// Calls an upload method: `fields` as form fields (JSON-encoded where the API wants JSON), plus the file.
    func upload<Result: Decodable & Sendable>(
        method: String, fields: [(String, String)], file: Upload, as: Result.Type
    ) async throws(TelegramError) -> Result {
        var form = MultipartFormData()
        for (name, value) in fields { form.addField(name, value) }
        form.addFile(file.field, filename: file.filename, contentType: file.contentType, path: file.path, size: file.size)
        let http = HTTPClientRequest(
            method: .POST, url: methodURL(method), headers: ["Content-Type": form.contentType], body: form.body)
        return try await send(http, method: method, as: Result.self, responseTimeout: .seconds(120))
    }

    /// Downloads a file that getFile described into `destination`; at most `maxBytes`.
    /// `shared`: the file is for Claude (a project's upload), so it gets group read and write where the umask
    /// allows rather than owner-only: with CLAUDE_USER, its group may read and change it.
    func download(filePath: String, to destination: String, maxBytes: Int = TelegramLimits.downloadBytes, shared: Bool = false)
        async throws(TelegramError) -> Int
    {
        let request = HTTPClientRequest(method: .GET, url: base.with(target: "\(basePath)/file/bot\(token)/\(Self.escapePath(filePath))"))
        let download: HTTPClient.Download
        do {
            download = try await http.download(request, to: destination, maxLength: maxBytes, permissions: shared ? 0o664 : 0o600)
        } catch {
            throw .transport(error)
        }
        guard (200..<300).contains(download.head.status) else {
            throw Self.decodeFailure(status: download.head.status, body: download.errorBody)
        }
        return download.byteCount
    }

    // MARK: Typed methods

    func getMe() async throws(TelegramError) -> User { try await call(GetMe(), as: User.self) }

    func sendMessage(_ request: SendMessage) async throws(TelegramError) -> Message {
        try await call(request, as: Message.self)
    }

    func editMessageText(_ request: EditMessageText) async throws(TelegramError) -> Message {
        try await call(request, as: Message.self)
    }

    func editMessageReplyMarkup(_ request: EditMessageReplyMarkup) async throws(TelegramError) -> Message {
        try await call(request, as: Message.self)
    }

    func deleteMessage(_ request: DeleteMessage) async throws(TelegramError) {
        _ = try await call(request, as: Bool.self)
    }

    func answerCallbackQuery(_ request: AnswerCallbackQuery) async throws(TelegramError) {
        _ = try await call(request, as: Bool.self)
    }

    func sendChatAction(_ request: SendChatAction) async throws(TelegramError) {
        _ = try await call(request, as: Bool.self)
    }

    func setMessageReaction(_ request: SetMessageReaction) async throws(TelegramError) {
        _ = try await call(request, as: Bool.self)
    }

    func sendMessageDraft(_ request: SendMessageDraft) async throws(TelegramError) {
        _ = try await call(request, as: Bool.self)
    }

    func getFile(_ fileID: String) async throws(TelegramError) -> File {
        try await call(GetFile(fileID: fileID), as: File.self)
    }

    func setMyCommands(_ commands: [BotCommand]) async throws(TelegramError) {
        _ = try await call(SetMyCommands(commands: commands), as: Bool.self)
    }

    func setWebhook(_ request: SetWebhook) async throws(TelegramError) {
        _ = try await call(request, as: Bool.self)
    }

    func deleteWebhook(dropPendingUpdates: Bool = false) async throws(TelegramError) {
        _ = try await call(DeleteWebhook(dropPendingUpdates: dropPendingUpdates), as: Bool.self)
    }

    func getWebhookInfo() async throws(TelegramError) -> WebhookInfo {
        try await call(GetWebhookInfo(), as: WebhookInfo.self)
    }

    /// Long poll: the HTTP response timeout is the poll's own timeout plus a margin. Elements
    /// come back as plain JSON, so that one odd update cannot fail the whole batch.
    func getUpdates(_ request: GetUpdates) async throws(TelegramError) -> [JSONValue] {
        try await call(request, as: [JSONValue].self, responseTimeout: .seconds(Int64((request.timeout ?? 0) + 15)))
    }

    /// sendDocument / sendPhoto with a file from disk.
    func sendFile(
        method: String, chatID: Int64, messageThreadID: Int64?, caption: String?, file: Upload
    ) async throws(TelegramError) -> Message {
        if let caption { try TelegramLimits.checkText(caption, parseMode: .html, limit: TelegramLimits.caption, what: "caption") }
        var fields = [("chat_id", String(chatID))]
        if let messageThreadID { fields.append(("message_thread_id", String(messageThreadID))) }
        if let caption { fields += [("caption", caption), ("parse_mode", ParseMode.html.rawValue)] }
        return try await upload(method: method, fields: fields, file: file, as: Message.self)
    }

    // MARK: Plumbing

    private func methodURL(_ method: String) -> HTTPClientURL {
        base.with(target: "\(basePath)/bot\(token)/\(method)")
    }

    private func send<Result: Decodable & Sendable>(
        _ request: HTTPClientRequest, method: String, as: Result.Type, responseTimeout: Duration?
    ) async throws(TelegramError) -> Result {
        guard let metrics else { return try await exchange(request, method: method, as: Result.self, responseTimeout: responseTimeout) }
        do {
            let result = try await exchange(request, method: method, as: Result.self, responseTimeout: responseTimeout)
            metrics.telegramRequest(method: method, result: "ok")
            return result
        } catch {
            metrics.telegramRequest(method: method, result: error.metricsResult)
            throw error
        }
    }

    private func exchange<Result: Decodable & Sendable>(
        _ request: HTTPClientRequest, method: String, as: Result.Type, responseTimeout: Duration?
    ) async throws(TelegramError) -> Result {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, responseTimeout: responseTimeout)
        } catch {
            throw .transport(error)
        }
        guard (200..<300).contains(response.status) else {
            throw Self.decodeFailure(status: response.status, body: response.body)
        }
        do {
            let envelope = try JSONDecoder().decode(Envelope<Result>.self, from: Data(response.body))
            guard envelope.ok, let result = envelope.result else {
                throw Self.decodeFailure(status: response.status, body: response.body)
            }
            return result
        } catch let error as TelegramError {
            throw error
        } catch {
            throw .unexpectedResponse(status: response.status, detail: "\(method): undecodable result: \(error)")
        }
    }

    private struct Envelope<Result: Decodable>: Decodable {
        let ok: Bool
        let result: Result?
    }

    private struct Failure: Decodable {
        let ok: Bool
        let errorCode: Int?
        let description: String?
        let parameters: Parameters?

        enum CodingKeys: String, CodingKey {
            case ok, description, parameters
            case errorCode = "error_code"
        }

        struct Parameters: Decodable {
            let retryAfter: Int?
            let migrateToChatID: Int64?

            enum CodingKeys: String, CodingKey {
                case retryAfter = "retry_after"
                case migrateToChatID = "migrate_to_chat_id"
            }
        }
    }

    /// `{ok:false, error_code, description, parameters}` → `.api`; anything else → `.unexpectedResponse`.
    static func decodeFailure(status: Int, body: [UInt8]) -> TelegramError {
        if let failure = try? JSONDecoder().decode(Failure.self, from: Data(body)), !failure.ok {
            return .api(
                code: failure.errorCode ?? status, description: failure.description ?? "no description",
                retryAfter: failure.parameters?.retryAfter, migrateToChatID: failure.parameters?.migrateToChatID)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return .unexpectedResponse(status: status, detail: text.isEmpty ? "empty body" : text)
    }

    /// file_path comes from Telegram ("voice/file_1.oga"); escape anything that is not a safe path byte.
    private static func escapePath(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            let character = Character(Unicode.Scalar(byte))
            if byte < 0x80, character.isLetter || character.isNumber || "/._-~".contains(character) {
                out.append(character)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
