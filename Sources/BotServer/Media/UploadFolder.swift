import Glibc

/// Where files the user sends land: `<project>/.telegram-uploads/`, kept out of git (an
/// entry in `.git/info/exclude`), under names that cannot point anywhere else or overwrite
/// anything.
enum UploadFolder {
    static let name = ".telegram-uploads"

    /// Creates the folder (and the git exclude entry) if needed; returns its path.
    static func prepare(in project: String) throws(MediaError) -> String {
        let folder = project + "/" + name
        if !WorkspacePath.isDirectory(folder) {
            // What the umask allows: with CLAUDE_USER (umask 0002), Claude's group may add and
            // remove files here too.
            guard mkdir(folder, 0o775) == 0 || errno == EEXIST else {
                throw .storage("cannot create \(folder): \(String(cString: strerror(errno)))")
            }
        }
        let exclude = project + "/.git/info/exclude"
        if WorkspacePath.isDirectory(project + "/.git/info") {
            let existing = (try? readText(exclude)) ?? ""
            if !existing.split(separator: "\n").contains("/\(name)/") {
                _ = append(exclude, (existing.isEmpty || existing.hasSuffix("\n") ? "" : "\n") + "/\(name)/\n")
            }
        }
        return folder
    }

    /// A safe file name: the last path component only, no control characters, no leading
    /// dots or dashes, at most 120 characters with the extension kept.
    static func safeName(_ proposed: String?, fallback: String) -> String {
        let last = (proposed ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String(last.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
            .map { "<>:\"|?*".contains($0) ? "_" : $0 }.reduce(into: "") { $0.append($1) }
        while let first = cleaned.first, first == "." || first == "-" || first == " " { cleaned.removeFirst() }
        cleaned = cleaned.trimmingWhitespace()
        if cleaned.isEmpty { cleaned = fallback }
        if cleaned.count > 120 {
            let dot = cleaned.lastIndex(of: ".")
            let ext = dot.map { String(cleaned[$0...]) }.flatMap { $0.count <= 12 ? $0 : nil } ?? ""
            cleaned = String(cleaned.prefix(120 - ext.count)) + ext
        }
        return cleaned
    }

    /// `name` in `folder`, or `name-2.ext`, `name-3.ext`, ... if it is taken.
    static func unusedPath(for name: String, in folder: String) -> String {
        var candidate = folder + "/" + name
        var counter = 2
        while access(candidate, F_OK) == 0 {
            let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 }
            let stem = dot.map { String(name[..<$0]) } ?? name
            let ext = dot.map { String(name[$0...]) } ?? ""
            candidate = folder + "/" + stem + "-\(counter)" + ext
            counter += 1
        }
        return candidate
    }

    private static func readText(_ path: String) throws -> String {
        guard let file = fopen(path, "re") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func append(_ path: String, _ text: String) -> Bool {
        guard let file = fopen(path, "ae") else { return false }
        defer { fclose(file) }
        return fputs(text, file) >= 0
    }
}

/// Why a file could not be taken or sent, for the user.
enum MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLarge(name: String, bytes: Int64, limit: Int)
    case download(String)
    case storage(String)
    case transcription(String)
    /// The transcription API answered 401 or 403.
    case transcriptionKeyRefused(status: Int, keyGiven: Bool)
    case noTranscriber

    var description: String {
        switch self {
        case let .tooLarge(name, bytes, limit):
            return "\(name) is \(FileSize.describe(bytes)); bots can fetch at most \(FileSize.describe(Int64(limit))) from Telegram"
        case .download(let detail): return "the file could not be fetched from Telegram (\(detail))"
        case .storage(let detail): return "the file could not be saved (\(detail))"
        case .transcription(let detail): return "the voice note could not be transcribed (\(detail))"
        case let .transcriptionKeyRefused(status, keyGiven):
            return keyGiven
                ? "the transcription service refused the key in TRANSCRIPTION_API_KEY (HTTP \(status)), so the voice note was not transcribed"
                : "the transcription service wants a key: set TRANSCRIPTION_API_KEY (HTTP \(status))"
        case .noTranscriber:
            return "voice notes need a transcription backend: set TRANSCRIPTION_API_BASE_URL (an OpenAI-compatible /v1/audio/transcriptions, e.g. OpenAI, Groq or a local whisper server) or TRANSCRIPTION_COMMAND"
        }
    }
}
