import Glibc
import Logging

/// Sends Claude's answer: formatted HTML split under Telegram's limits; a chunk Telegram
/// still refuses (can't parse entities) goes again as plain text; a long answer goes as a
/// `.md` document with a preview. Buttons go under the last message. No answer is dropped:
/// every failure falls back to something simpler before giving up.
struct AnswerDelivery: Sendable {
    let outbox: TelegramOutbox
    let formatter: AnswerFormatter
    let temporaryDirectory: String
    let logger: Logger

    /// Returns the id of the last message sent (the one carrying the buttons).
    @discardableResult
    func deliver(
        markdown: String, to key: ConversationKey, buttons: InlineKeyboardMarkup?, replyTo: Int64? = nil
    ) async -> Int64? {
        switch formatter.format(markdown: markdown) {
        case .messages(let chunks) where chunks.isEmpty:
            return await sendChunk(html: "<i>(Claude gave no text answer.)</i>", plain: "(Claude gave no text answer.)", to: key, buttons: buttons)
        case .messages(let chunks):
            var last: Int64?
            for (index, chunk) in chunks.enumerated() {
                let isLast = index == chunks.count - 1
                last = await sendChunk(
                    html: chunk, plain: AnswerFormatter.plainText(html: chunk), to: key, buttons: isLast ? buttons : nil)
            }
            return last
        case .document(let preview, let markdown):
            if let id = await sendDocument(markdown: markdown, caption: preview, to: key) {
                if let buttons {
                    return await sendChunk(html: "The whole answer is in the file above.", plain: "The whole answer is in the file above.", to: key, buttons: buttons) ?? id
                }
                return id
            }
            // The upload failed: the answer still goes out, as messages.
            var last: Int64?
            for chunk in formatter.plainMessages(markdown: markdown) {
                last = await sendPlain(chunk, to: key, buttons: nil)
            }
            return last
        }
    }

    /// One message, as HTML, else as plain text.
    func sendChunk(html: String, plain: String, to key: ConversationKey, buttons: InlineKeyboardMarkup?) async -> Int64? {
        do {
            return try await outbox.send(
                SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: html, parseMode: .html, replyMarkup: buttons)).messageID
        } catch let error where error.isEntityParseError {
            logger.warning("Telegram refused the formatting; sending plain text", metadata: ["error": "\(error)"])
            return await sendPlain(plain, to: key, buttons: buttons)
        } catch {
            logger.error("answer message not sent", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func sendPlain(_ text: String, to key: ConversationKey, buttons: InlineKeyboardMarkup?) async -> Int64? {
        do {
            return try await outbox.send(
                SendMessage(chatID: key.chatID, messageThreadID: key.threadID, text: text, replyMarkup: buttons)).messageID
        } catch {
            logger.error("plain answer message not sent", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func sendDocument(markdown: String, caption: String, to key: ConversationKey) async -> Int64? {
        let path = temporaryDirectory + "/answer-\(key.chatID)-\(CallbackStore.randomToken()).md"
        let bytes = Array(markdown.utf8)
        guard Self.write(bytes, to: path) else {
            logger.error("could not write the answer file", metadata: ["path": "\(path)"])
            return nil
        }
        defer { unlink(path) }
        let upload = TelegramBotAPI.Upload(field: "document", path: path, filename: "answer.md", contentType: "text/markdown", size: bytes.count)
        do {
            return try await outbox.sendFile(
                method: "sendDocument", chatID: key.chatID, messageThreadID: key.threadID, caption: caption, file: upload).messageID
        } catch let error where error.isEntityParseError {
            let plain = AnswerFormatter.plainText(html: caption)
            return try? await outbox.sendFile(
                method: "sendDocument", chatID: key.chatID, messageThreadID: key.threadID, caption: plain, file: upload).messageID
        } catch {
            logger.error("answer document not sent", metadata: ["error": "\(error)"])
            return nil
        }
    }

    static func write(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
