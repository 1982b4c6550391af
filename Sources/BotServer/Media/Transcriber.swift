import CLinux
import ClaudeRunner
import FoundationEssentials
import Glibc
import HTTPCore
import Subprocess
import SystemPackage

/// Turns a voice note into text: an OpenAI-compatible `/v1/audio/transcriptions` endpoint
/// (OpenAI, Groq, a local whisper server) or a local command run without a shell.
enum Transcriber: Sendable {
    case api(baseURL: String, key: String?, model: String)
    /// argv template; `{input}` is replaced by the audio file's path. The transcript is stdout.
    /// The command gets `environment` (PATH, HOME, LANG), never the bot's own with its secrets.
    case command([String], environment: [String: String])

    static func fromEnvironment(_ environment: Environment) throws(ConfigurationError) -> Transcriber? {
        if let base = environment.optional("TRANSCRIPTION_API_BASE_URL") {
            guard (try? HTTPClientURL(base)) != nil else {
                throw ConfigurationError(variable: "TRANSCRIPTION_API_BASE_URL", problem: "is not an http(s) URL, got \"\(base)\"")
            }
            return .api(baseURL: base, key: environment.optional("TRANSCRIPTION_API_KEY"),
                        model: environment.optional("TRANSCRIPTION_MODEL") ?? "whisper-1")
        }
        if let command = environment.optional("TRANSCRIPTION_COMMAND") {
            let argv = command.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard argv.contains(where: { $0.contains("{input}") }) else {
                throw ConfigurationError(variable: "TRANSCRIPTION_COMMAND", problem: "must contain {input} where the audio file's path goes")
            }
            return .command(argv, environment: HelperEnvironment.values(from: environment))
        }
        return nil
    }

    func transcribe(file path: String, size: Int, filename: String, contentType: String, http: HTTPClient) async throws(MediaError) -> String {
        switch self {
        case let .api(baseURL, key, model):
            let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            let endpoint = trimmed.hasSuffix("/v1") ? trimmed + "/audio/transcriptions" : trimmed + "/v1/audio/transcriptions"
            guard let url = try? HTTPClientURL(endpoint) else { throw .transcription("bad TRANSCRIPTION_API_BASE_URL") }
            var form = MultipartFormData()
            form.addField("model", model)
            form.addField("response_format", "json")
            form.addFile("file", filename: filename, contentType: contentType, path: path, size: size)
            var headers: HTTPHeaders = ["Content-Type": form.contentType]
            if let key { headers.add(name: "Authorization", value: "Bearer \(key)") }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(
                    HTTPClientRequest(method: .POST, url: url, headers: headers, body: form.body), responseTimeout: .seconds(120))
            } catch {
                throw .transcription("\(error)")
            }
            // A refused key is said as such, naming the setting: not the service's own paragraph.
            if response.status == 401 || response.status == 403 { throw .transcriptionKeyRefused(status: response.status, keyGiven: key != nil) }
            guard (200..<300).contains(response.status) else {
                let detail = (try? JSONDecoder().decode(APIError.self, from: Data(response.body)))?.error.message
                throw .transcription("HTTP \(response.status)" + (detail.map { ": \($0)" } ?? ""))
            }
            guard let text = (try? JSONDecoder().decode(Transcript.self, from: Data(response.body)))?.text else {
                throw .transcription("the answer has no text")
            }
            return text.trimmingWhitespace()
        case let .command(template, environment):
            let argv = template.map { $0.replacingAll("{input}", with: path) }
            let (executable, arguments) = Self.withoutInheritedCapabilities(["timeout", "300"] + argv)
            do {
                let result = try await Subprocess.run(
                    executable, arguments: Arguments(arguments), environment: HelperEnvironment.subprocess(environment),
                    input: .none, output: .string(limit: 1 << 20), error: .string(limit: 64 << 10))
                guard case .exited(0) = result.terminationStatus else {
                    throw MediaError.transcription("\(argv.first ?? "the command") failed: \(result.standardError.suffix(300))")
                }
                return result.standardOutput.trimmingWhitespace()
            } catch let error as MediaError {
                throw error
            } catch {
                throw .transcription("\(error)")
            }
        }
    }

    /// A bot started as root holds cap_setuid and cap_setgid as ambient capabilities, for
    /// claude-reaper (PrivilegeDrop); any other program it starts would inherit them. The
    /// command then runs through the reaper as the bot's own user, which drops them first.
    private static func withoutInheritedCapabilities(_ argv: [String]) -> (Executable, [String]) {
        guard clinux_has_ambient_setuid() == 1, let reaper = ClaudeConfiguration.reaperBesideExecutable() else {
            return (.name(argv[0]), Array(argv.dropFirst()))
        }
        let groups = SystemUser.currentGroups().filter { $0 != getegid() }.map(String.init).joined(separator: ",")
        let user = "\(getuid()):\(getgid())" + (groups.isEmpty ? "" : ":" + groups)
        return (.path(FilePath(reaper)), ["--user", user] + argv)
    }

    private struct Transcript: Decodable { let text: String }
    private struct APIError: Decodable {
        struct Detail: Decodable { let message: String }
        let error: Detail
    }
}
