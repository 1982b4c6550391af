import ClaudeRunner
import FoundationEssentials
import Glibc

/// Photos, documents, voice notes and audio as prompts; files back with /get.
extension Conversation {
    /// A file the user sent, saved in the project; photos also go to Claude as images.
    struct Attachment: Sendable {
        let path: String
        let image: JSONValue?
    }

    /// Largest photo Claude takes as an image: 5 MB once base64-encoded.
    static let maxImageBytes: Int64 = 3_750_000

    func media(_ message: Message, updateID: Int64, from userID: Int64) async throws {
        try await load()
        acknowledge(messageID: message.messageID, updateID: updateID)
        let caption = (message.caption ?? "").trimmingWhitespace()
        if let voice = message.voice ?? message.audio {
            await voiceNote(voice, isVoice: message.voice != nil, caption: caption, messageID: message.messageID, updateID: updateID, from: userID)
            return
        }
        let attachment: Attachment
        do {
            if let photos = message.photo, !photos.isEmpty {
                attachment = try await savePhoto(photos, messageID: message.messageID)
            } else if let document = message.document {
                attachment = try await saveDocument(document, messageID: message.messageID)
            } else {
                return
            }
        } catch {
            await reply("⚠️ " + TelegramHTML.escape("\(error)".sentenceCased) + ".")
            return
        }
        pendingAttachments.append(attachment)
        if !caption.isEmpty { pendingCaption = (pendingCaption.map { $0 + "\n\n" } ?? "") + caption }
        // An album arrives as one update per item: collect them, then make one prompt.
        albumTimer?.cancel()
        if message.mediaGroupID != nil {
            let window = max(context.settings.forwardCollectWindow, .milliseconds(800))
            albumTimer = Task { [weak self] in
                try? await Task.sleep(for: window)
                guard !Task.isCancelled else { return }
                await self?.attachmentsComplete(updateID: nil, from: userID)
            }
        } else {
            await attachmentsComplete(updateID: updateID, from: userID)
        }
    }

    /// The attachments so far with their caption become a prompt; without a caption the
    /// user is asked what to do, and the files join their next message.
    private func attachmentsComplete(updateID: Int64?, from userID: Int64) async {
        albumTimer = nil
        guard let caption = pendingCaption else {
            let names = pendingAttachments.map { "<code>\(TelegramHTML.escape(relativeToProject($0.path)))</code>" }.joined(separator: ", ")
            await reply("📎 Saved \(names). What should Claude do with \(pendingAttachments.count == 1 ? "it" : "them")?")
            return
        }
        pendingCaption = nil
        do {
            try await prompt(caption, messageID: 0, updateID: updateID, isForward: false, from: userID, acknowledged: true)
        } catch {
            logger.error("could not start the prompt for attachments", metadata: ["error": "\(error)"])
        }
    }

    /// A text that replies to a voice note: transcribed, with the text in front.
    func voiceReply(_ text: String, to voiceMessage: Message, messageID: Int64, updateID: Int64, from userID: Int64) async throws {
        try await load()
        acknowledge(messageID: messageID, updateID: updateID)
        guard let audio = voiceMessage.voice ?? voiceMessage.audio else { return }
        await voiceNote(audio, isVoice: voiceMessage.voice != nil, caption: text, messageID: voiceMessage.messageID, updateID: updateID, from: userID)
    }

    /// Pending attachments join a prompt: their paths in the text, photos as image blocks.
    func takeAttachments(into text: String) -> (text: String, images: [JSONValue]) {
        guard !pendingAttachments.isEmpty else { return (text, []) }
        let attachments = pendingAttachments
        pendingAttachments = []
        let list = attachments.map { "- " + relativeToProject($0.path) }.joined(separator: "\n")
        return (text + "\n\n(Files the user sent, saved in the project:\n" + list + ")", attachments.compactMap(\.image))
    }

    func relativeToProject(_ path: String) -> String { ToolActivity.relative(path, to: settings.project) }

    /// `shared`: into the project, for Claude to read (see TelegramBotAPI.download).
    private func download(fileID: String, size: Int64?, name: String, to path: String, shared: Bool = true) async throws(MediaError) {
        let limit = TelegramLimits.downloadBytes
        if let size, size > Int64(limit) { throw .tooLarge(name: name, bytes: size, limit: limit) }
        let file: File
        do {
            file = try await context.api.getFile(fileID)
        } catch {
            if case .api(400, let description, _, _) = error, description.contains("too big") {
                throw .tooLarge(name: name, bytes: size ?? Int64(limit) + 1, limit: limit)
            }
            throw .download("\(error)")
        }
        guard let remote = file.filePath else { throw .download("Telegram gave no file path") }
        do {
            _ = try await context.api.download(filePath: remote, to: path, maxBytes: limit, shared: shared)
        } catch {
            throw .download("\(error)")
        }
    }

    private func savePhoto(_ photos: [PhotoSize], messageID: Int64) async throws(MediaError) -> Attachment {
        // The largest size Claude takes; Telegram lists them smallest first.
        let fitting = photos.filter { ($0.fileSize ?? 0) <= Self.maxImageBytes && max($0.width, $0.height) <= 8000 }
        let photo = fitting.last ?? photos.first!
        let folder = try UploadFolder.prepare(in: settings.project)
        let path = UploadFolder.unusedPath(for: "photo-\(messageID).jpg", in: folder)
        try await download(fileID: photo.fileID, size: photo.fileSize, name: "The photo", to: path)
        guard let data = FileManager.default.contents(atPath: path) else { throw .storage("cannot read \(path)") }
        let image = data.count <= Self.maxImageBytes
            ? UserContent.image(mediaType: Self.imageType(of: Array(data.prefix(12))), base64: data.base64EncodedString()) : nil
        return Attachment(path: path, image: image)
    }

    /// The image's type from its first bytes: Telegram sends photos as JPEG, but say what it is.
    static func imageType(of header: [UInt8]) -> String {
        if header.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if header.starts(with: Array("GIF8".utf8)) { return "image/gif" }
        if header.count >= 12, header.starts(with: Array("RIFF".utf8)), Array(header[8..<12]) == Array("WEBP".utf8) { return "image/webp" }
        return "image/jpeg"
    }

    private func saveDocument(_ document: FileAttachment, messageID: Int64) async throws(MediaError) -> Attachment {
        let folder = try UploadFolder.prepare(in: settings.project)
        let name = UploadFolder.safeName(document.fileName, fallback: "file-\(messageID)")
        let path = UploadFolder.unusedPath(for: name, in: folder)
        try await download(fileID: document.fileID, size: document.fileSize, name: name, to: path)
        return Attachment(path: path, image: nil)
    }

    private func voiceNote(
        _ audio: FileAttachment, isVoice: Bool, caption: String, messageID: Int64, updateID: Int64, from userID: Int64
    ) async {
        guard let transcriber = context.settings.transcriber else {
            await reply("🎙 " + TelegramHTML.escape(MediaError.noTranscriber.description.sentenceCased) + ".")
            return
        }
        let name = isVoice ? "voice-\(messageID).ogg" : UploadFolder.safeName(audio.fileName, fallback: "audio-\(messageID)")
        let path = context.settings.temporaryDirectory + "/" + CallbackStore.randomToken() + "-" + name
        defer { unlink(path) }
        let transcript: String
        do {
            try await download(fileID: audio.fileID, size: audio.fileSize, name: isVoice ? "The voice note" : name, to: path, shared: false)
            let size = try? FileSize.of(path)
            Conversation.typing(in: key, context: context)
            transcript = try await transcriber.transcribe(
                file: path, size: size ?? 0, filename: name, contentType: audio.mimeType ?? (isVoice ? "audio/ogg" : "application/octet-stream"),
                http: context.http)
        } catch {
            await reply("⚠️ " + TelegramHTML.escape("\(error)".sentenceCased) + ". Nothing was sent to Claude.")
            return
        }
        guard !transcript.isEmpty else {
            await reply("🎙 I could not make out any words in that. Nothing was sent to Claude.")
            return
        }
        // Shown first, quoted, so the user sees what was understood before Claude acts on it.
        await reply("🎙 <blockquote>" + TelegramHTML.escape(transcript) + "</blockquote>")
        let text = caption.isEmpty ? transcript : caption + "\n\n" + transcript
        do {
            try await prompt(text, messageID: 0, updateID: updateID, isForward: false, from: userID, acknowledged: true)
        } catch {
            logger.error("could not start the voice prompt", metadata: ["error": "\(error)"])
        }
    }

    // MARK: /get

    func sendFile(_ argument: String) async {
        guard !argument.isEmpty else {
            await reply("Which file? <code>/get path/in/the/project</code>")
            return
        }
        let path: String
        switch WorkspacePath.resolveFile(argument, in: context.settings.workspaceRoot, from: settings.project) {
        case .success(let resolved): path = resolved
        case .failure(let error):
            await reply("🚫 " + TelegramHTML.escape(error.description) + ".")
            return
        }
        guard let size = try? FileSize.of(path) else {
            await reply("🚫 <code>\(TelegramHTML.escape(argument))</code> is not a file.")
            return
        }
        let name = String(path.split(separator: "/").last ?? "file")
        let lowered = name.lowercased()
        let isImage = [".jpg", ".jpeg", ".png", ".gif", ".webp"].contains { lowered.hasSuffix($0) }
        let asPhoto = isImage && size <= TelegramLimits.photoUploadBytes
        guard size <= TelegramLimits.uploadBytes else {
            await reply("🚫 \(TelegramHTML.escape(name)) is \(FileSize.describe(Int64(size))); bots can send at most 50 MB.")
            return
        }
        let upload = TelegramBotAPI.Upload(
            field: asPhoto ? "photo" : "document", path: path, filename: name,
            contentType: asPhoto ? (lowered.hasSuffix(".png") ? "image/png" : "image/jpeg") : "application/octet-stream", size: size)
        do {
            _ = try await context.outbox.sendFile(
                method: asPhoto ? "sendPhoto" : "sendDocument", chatID: key.chatID, messageThreadID: key.threadID,
                caption: "<code>\(TelegramHTML.escape(relativeToProject(path)))</code>", file: upload)
        } catch {
            await reply("The file could not be sent: \(TelegramHTML.escape("\(error)"))")
        }
    }
}
