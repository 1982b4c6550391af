import Glibc
import Logging

/// Sends what must not be lost (OutgoingStore): each part was stored before it gets here,
/// and is marked with Telegram's message id as soon as Telegram has it, so a restart sends
/// exactly what had not arrived.
///
/// A conversation's parts go one after another, in the order they were stored; conversations
/// do not wait for each other. A part Telegram cannot take now (5xx, network) stays stored
/// and is tried again with a growing pause, and after a restart; a part Telegram refuses for
/// good (the chat is gone) is marked failed. Formatting Telegram refuses goes as plain text;
/// a progress message that can no longer be edited is replaced by a new message; a document
/// that cannot be uploaded goes as plain messages.
actor DurableOutbox {
    private let outbox: TelegramOutbox
    private let store: OutgoingStore
    private let temporaryDirectory: String
    private let logger: Logger
    /// The tail of each conversation's chain of deliveries: the next one starts after it.
    private var chains: [ConversationKey: Task<Void, Never>] = [:]
    private var retries: [ConversationKey: Task<Void, Never>] = [:]
    /// Pauses between tries of a part Telegram could not take, by try (the last repeats).
    var retryPauses: [Duration] = [.seconds(2), .seconds(10), .seconds(30), .seconds(120), .seconds(600)]
    /// Tries after which a part that keeps failing is given up.
    var maxAttempts = 40

    init(outbox: TelegramOutbox, store: OutgoingStore, temporaryDirectory: String, logger: Logger) {
        self.outbox = outbox
        self.store = store
        self.temporaryDirectory = temporaryDirectory
        self.logger = logger
    }

    /// Sends stored parts, after whatever this conversation still has on its way. Returns the
    /// message ids, in order (nil for a part that did not arrive yet: it is retried later).
    @discardableResult
    func deliver(_ records: [OutgoingRecord]) async -> [Int64?] {
        guard let key = records.first?.conversation else { return [] }
        return await chained(key) { await self.send(records, of: key) }
    }

    /// Runs `body` after the conversation's deliveries before it: one at a time, in order.
    private func chained<T: Sendable>(_ key: ConversationKey, _ body: @escaping @Sendable () async -> T) async -> T {
        let previous = chains[key]
        let delivery = Task { () -> T in
            await previous?.value
            return await body()
        }
        let tail = Task { _ = await delivery.value }
        chains[key] = tail
        let value = await delivery.value
        if chains[key] == tail { chains[key] = nil }
        return value
    }

    /// Stores and sends parts that have no run to be stored with.
    @discardableResult
    func storeAndDeliver(_ parts: [OutgoingPart], to key: ConversationKey, runID: Int64? = nil) async -> [Int64?] {
        guard !parts.isEmpty else { return [] }
        do {
            return await deliver(try await store.store(parts, for: key, runID: runID))
        } catch {
            // The database refused the write: sending without a record is still better than nothing.
            logger.error("could not store a message before sending it; sending it anyway", metadata: ["error": "\(error)"])
            var ids: [Int64?] = []
            for part in parts { ids.append((try? await send(part, to: key).get()) ?? nil) }
            return ids
        }
    }

    /// At start-up: whatever a crash or restart left unsent goes now; what was sent (or given
    /// up) over a week ago is history nobody reads, and is removed.
    func resumePending() async {
        if let pruned = try? await store.prune(olderThan: .seconds(7 * 86_400)), pruned > 0 {
            logger.debug("old outgoing messages pruned", metadata: ["rows": "\(pruned)"])
        }
        let pending: [OutgoingRecord]
        do {
            pending = try await store.pending()
        } catch {
            logger.error("could not read the messages left unsent", metadata: ["error": "\(error)"])
            return
        }
        guard !pending.isEmpty else { return }
        logger.notice("sending messages left unsent by the restart", metadata: ["messages": "\(pending.count)"])
        let byConversation = Dictionary(grouping: pending, by: \.conversation)
        await withTaskGroup(of: Void.self) { group in
            for records in byConversation.values {
                group.addTask { _ = await self.deliver(records.sorted { $0.id < $1.id }) }
            }
        }
    }

    // MARK: Sending

    private func send(_ records: [OutgoingRecord], of key: ConversationKey) async -> [Int64?] {
        // An earlier part of this conversation waits to be tried again: these are stored, and
        // go with it, after it.
        if retries[key] != nil { return Array(repeating: nil, count: records.count) }
        var ids: [Int64?] = []
        for (index, record) in records.enumerated() {
            switch await send(record.part, to: record.conversation) {
            case .success(let id):
                ids.append(id)
                do { try await store.markSent(record.id, messageID: id) } catch {
                    logger.error("could not record a message as sent; a restart may send it again", metadata: ["error": "\(error)"])
                }
            case .failure(let error) where error.isRetryable && record.attempts + 1 < maxAttempts:
                // Later parts wait for this one: the order of an answer's chunks must hold.
                try? await store.noteAttempt(record.id, error: "\(error)")
                logger.warning(
                    "message not delivered yet; it will be tried again",
                    metadata: ["conversation": "\(record.conversation)", "error": "\(error)"])
                scheduleRetry(of: record.conversation, attempt: record.attempts + 1)
                return ids + Array(repeating: nil, count: records.count - index)
            case .failure(let error):
                ids.append(nil)
                logger.error("message given up", metadata: ["conversation": "\(record.conversation)", "error": "\(error)"])
                try? await store.markFailed(record.id, error: "\(error)")
            }
        }
        return ids
    }

    /// Tries the conversation's stored parts again after a pause (all of them: a part stored
    /// after the failed one waits for it).
    private func scheduleRetry(of key: ConversationKey, attempt: Int) {
        guard retries[key] == nil else { return }
        let pause = retryPauses[min(max(attempt - 1, 0), retryPauses.count - 1)]
        retries[key] = Task {
            try? await Task.sleep(for: pause)
            await self.retry(key)
        }
    }

    /// Read when its turn in the chain comes, so that it holds exactly what is still unsent.
    private func retry(_ key: ConversationKey) async {
        _ = await chained(key) { () -> [Int64?] in
            await self.clearRetry(key)
            guard let pending = try? await self.store.pending().filter({ $0.conversation == key }), !pending.isEmpty else { return [] }
            return await self.send(pending, of: key)
        }
    }

    private func clearRetry(_ key: ConversationKey) {
        retries[key] = nil
    }

    /// One part; the message id Telegram gave it.
    private func send(_ part: OutgoingPart, to key: ConversationKey) async -> Result<Int64?, TelegramError> {
        switch part.kind {
        case .text: await sendText(part, to: key)
        case .document: await sendDocument(part, to: key)
        case .delete: await delete(part.replaces, in: key)
        }
    }

    private func delete(_ messageID: Int64?, in key: ConversationKey) async -> Result<Int64?, TelegramError> {
        guard let messageID else { return .success(nil) }
        do {
            try await outbox.delete(DeleteMessage(chatID: key.chatID, messageID: messageID))
        } catch let error where error.isRetryable {
            return .failure(error)
        } catch {
            // Already gone, or too old to delete: nothing more to do about it.
            logger.notice("progress message not deleted", metadata: ["error": "\(error)"])
        }
        return .success(nil)
    }

    private func sendText(_ part: OutgoingPart, to key: ConversationKey) async -> Result<Int64?, TelegramError> {
        if let replaces = part.replaces {
            switch await edit(replaces, part, in: key) {
            case .success: return .success(replaces)
            case .failure(let error) where error.isRetryable: return .failure(error)
            case .failure(let error):
                // Deleted, too old, or not the bot's: the content goes as a new message.
                logger.notice("progress message not editable; sending a new message", metadata: ["error": "\(error)"])
            }
        }
        do {
            return .success(try await outbox.send(message(part, html: true, in: key)).messageID)
        } catch let error where error.isEntityParseError {
            logger.warning("Telegram refused the formatting; sending plain text", metadata: ["error": "\(error)"])
            do { return .success(try await outbox.send(message(part, html: false, in: key)).messageID) } catch { return .failure(error) }
        } catch {
            return .failure(error)
        }
    }

    private func edit(_ messageID: Int64, _ part: OutgoingPart, in key: ConversationKey) async -> Result<Void, TelegramError> {
        func request(html: Bool) -> EditMessageText {
            EditMessageText(
                chatID: key.chatID, messageID: messageID, text: html ? part.html : part.plain, parseMode: html ? .html : nil,
                replyMarkup: part.buttons)
        }
        do {
            try await outbox.edit(request(html: true))
            return .success(())
        } catch let error where error.isEntityParseError {
            do { try await outbox.edit(request(html: false)) } catch { return .failure(error) }
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    private func message(_ part: OutgoingPart, html: Bool, in key: ConversationKey) -> SendMessage {
        SendMessage(
            chatID: key.chatID, messageThreadID: key.threadID, text: html ? part.html : part.plain, parseMode: html ? .html : nil,
            replyMarkup: part.buttons)
    }

    private func sendDocument(_ part: OutgoingPart, to key: ConversationKey) async -> Result<Int64?, TelegramError> {
        let markdown = part.markdown ?? ""
        let path = temporaryDirectory + "/answer-\(key.chatID)-\(CallbackStore.randomToken()).md"
        let bytes = Array(markdown.utf8)
        if LocalFile.write(bytes, to: path) {
            defer { unlink(path) }
            let file = TelegramBotAPI.Upload(field: "document", path: path, filename: "answer.md", contentType: "text/markdown", size: bytes.count)
            let outbox = outbox
            func upload(caption: String) async throws(TelegramError) -> Int64 {
                try await outbox.sendFile(
                    method: "sendDocument", chatID: key.chatID, messageThreadID: key.threadID, caption: caption, file: file).messageID
            }
            do {
                return .success(try await upload(caption: part.html))
            } catch let error where error.isEntityParseError {
                if let id = try? await upload(caption: part.plain) { return .success(id) }
            } catch let error where error.isRetryable {
                return .failure(error)
            } catch {
                logger.error("answer document refused; sending it as messages", metadata: ["error": "\(error)"])
            }
        } else {
            logger.error("could not write the answer file; sending it as messages", metadata: ["path": "\(path)"])
        }
        // The answer still goes out, as plain messages.
        var last: Int64?
        for chunk in AnswerFormatter(maxMessages: .max).plainMessages(markdown: markdown) {
            do {
                last = try await outbox.send(SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: chunk)).messageID
            } catch {
                return .failure(error)
            }
        }
        return .success(last)
    }
}
