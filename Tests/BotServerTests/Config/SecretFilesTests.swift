import Foundation
import TestSupport
import Testing

@testable import BotServer

/// NAME_FILE: a secret read from a file (Docker and Coolify secrets) reaches every reader of
/// NAME, and a file that cannot serve is refused with the variable and the path.
@Suite struct SecretFilesTests {
    static let values = [
        "TELEGRAM_BOT_TOKEN": ConfigurationTests.token,
        "TELEGRAM_WEBHOOK_SECRET": "file-webhook_secret-1",
        "METRICS_TOKEN": "file-metrics-token-0123456789",
        "GIT_TOKEN": "ghp_fileGitToken0123456789",
        "TRANSCRIPTION_API_KEY": "sk-file-transcription-key",
    ]

    @Test(arguments: Environment.secretNames)
    func aFileSuppliesTheValueWithoutItsLineEnding(name: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let value = try #require(Self.values[name])
        for ending in ["", "\n", "\r\n"] {
            let path = try Self.write(value + ending, named: name, in: directory)
            let environment = try Environment.resolvingSecretFiles([name + "_FILE": path, "PORT": "9000"])
            #expect(environment.values[name] == value, "ending \(Array(ending.utf8))")
            #expect(environment.values[name + "_FILE"] == path)
            #expect(environment.values["PORT"] == "9000")
        }
    }

    /// The readers are unchanged: Configuration, ChatSettings' git token and the transcriber
    /// read NAME, and get the file's content; the log's redactor gets all five.
    @Test func everyReaderGetsTheValueFromItsFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var given = [
            "ALLOWED_USER_IDS": "1", "WORKSPACE_ROOT": directory.path + "/workspace",
            "TRANSCRIPTION_API_BASE_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin", "HOME": directory.path,
        ]
        for (name, value) in Self.values { given[name + "_FILE"] = try Self.write(value + "\n", named: name, in: directory) }
        let environment = try Environment.resolvingSecretFiles(given)
        let configuration = try Configuration.load(from: environment)
        #expect(configuration.botToken == Self.values["TELEGRAM_BOT_TOKEN"])
        #expect(configuration.webhookSecret == Self.values["TELEGRAM_WEBHOOK_SECRET"])
        #expect(configuration.metricsToken == Self.values["METRICS_TOKEN"])
        #expect(Set(configuration.secrets) == Set(Self.values.values))
        let chat = try ChatSettings.load(from: environment, currentDirectory: directory.path, dataDirectory: directory.path)
        #expect(chat.git.token == Self.values["GIT_TOKEN"])
        guard case let .api(_, key, _) = try #require(chat.transcriber) else {
            Issue.record("TRANSCRIPTION_API_BASE_URL is set, but the transcriber is not the API")
            return
        }
        #expect(key == Self.values["TRANSCRIPTION_API_KEY"])
    }

    @Test(arguments: Environment.secretNames)
    func theValueAndItsFileTogetherAreRefusedNamingBoth(name: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let value = try #require(Self.values[name])
        let path = try Self.write(value, named: name, in: directory)
        let error = try Self.refusal([name: value, name + "_FILE": path])
        #expect(error.variable == name + "_FILE")
        #expect(error.problem.contains("together with \(name);"), "\(error)")
        #expect(!error.description.contains(value), "the secret leaked into the message")
    }

    /// A blank NAME (as deploy/.env.example leaves it) is unset: the file alone counts.
    @Test func aBlankValueBesideItsFileIsUnset() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try Self.write("file-metrics-token-0123456789", named: "metrics", in: directory)
        let environment = try Environment.resolvingSecretFiles(["METRICS_TOKEN": " ", "METRICS_TOKEN_FILE": path])
        #expect(environment.values["METRICS_TOKEN"] == "file-metrics-token-0123456789")
    }

    @Test func aMissingFileIsNamedWithItsVariable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/not-there"
        let error = try Self.refusal(["GIT_TOKEN_FILE": path])
        #expect(error.variable == "GIT_TOKEN_FILE")
        #expect(error.description.contains(path) && error.description.contains("No such file"), "\(error)")
    }

    @Test func anEmptyFileIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for content in ["", "\n", "\r\n", "  \n"] {
            let path = try Self.write(content, named: "empty", in: directory)
            let error = try Self.refusal(["TELEGRAM_WEBHOOK_SECRET_FILE": path])
            #expect(error.variable == "TELEGRAM_WEBHOOK_SECRET_FILE")
            #expect(error.description.contains(path) && error.description.contains("is empty"), "\(error)")
        }
    }

    @Test func aDirectoryOrAnOversizedFileIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let unreadable = try Self.refusal(["METRICS_TOKEN_FILE": directory.path])
        #expect(unreadable.description.contains(directory.path) && unreadable.description.contains("Is a directory"), "\(unreadable)")
        let large = try Self.write(String(repeating: "x", count: Environment.secretFileLimit + 1), named: "large", in: directory)
        let oversized = try Self.refusal(["METRICS_TOKEN_FILE": large])
        #expect(oversized.description.contains(large) && oversized.description.contains("larger than"), "\(oversized)")
    }

    private static func refusal(_ values: [String: String]) throws -> ConfigurationError {
        do {
            _ = try Environment.resolvingSecretFiles(values)
        } catch {
            return error
        }
        throw Accepted(values: values)
    }

    private struct Accepted: Error, CustomStringConvertible {
        let values: [String: String]
        var description: String { "\(values.keys.sorted()) was accepted" }
    }

    private static func write(_ content: String, named name: String, in directory: TemporaryDirectory) throws -> String {
        let path = directory.path + "/" + name.lowercased()
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
