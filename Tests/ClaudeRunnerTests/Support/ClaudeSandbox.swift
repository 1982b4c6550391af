import ClaudeRunner
import Foundation
import TestSupport

/// Tests/FakeServers/fake_anthropic_api.py: the Messages API the real CLI talks to in tests,
/// answering each model turn from a script (see its docstring for the format).
final class FakeAnthropicAPI: Sendable {
    let process: FakeServerProcess
    var baseURL: String { "http://127.0.0.1:\(process.port)" }

    static func start() async throws -> FakeAnthropicAPI {
        FakeAnthropicAPI(process: try await FakeServerProcess.start(script: "fake_anthropic_api.py", arguments: ["--port", "0"]))
    }

    private init(process: FakeServerProcess) { self.process = process }

    func stop() { process.stop() }

    func script(_ turns: [JSONValue]) async throws {
        _ = try await control("POST", "/__fake/script", ["turns": .array(turns)])
    }

    /// Main-loop requests the CLI made, oldest first.
    func mainRequests() async throws -> [JSONValue] {
        try await control("GET", "/__fake/requests?kind=main")["requests"]?.array ?? []
    }

    @discardableResult
    private func control(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        let response = try await RawHTTPClient.request(
            port: process.port, method: method, path: path,
            headers: body == nil ? [:] : ["Content-Type": "application/json"], body: body?.serialized() ?? [])
        guard response.status == 200 else {
            throw FakeServerProcess.StartError(description: "fake API \(path): \(response.status) \(response.bodyText)")
        }
        return try JSONValue.parse(response.body)
    }
}

/// Everything one runner test needs: the fake API, a HOME of its own (sessions are stored
/// there), a git repository to work in, and the configuration that points the CLI at them.
struct ClaudeSandbox {
    let api: FakeAnthropicAPI
    let directory: TemporaryDirectory
    var home: String { directory.path + "/home" }
    var repository: String { directory.path + "/repo" }

    static func start() async throws -> ClaudeSandbox {
        let sandbox = ClaudeSandbox(api: try await FakeAnthropicAPI.start(), directory: try TemporaryDirectory())
        try FileManager.default.createDirectory(atPath: sandbox.home, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sandbox.repository, withIntermediateDirectories: true)
        let (status, output) = try await offCooperativePool { [repository = sandbox.repository] in
            try ChildProcess.run(["git", "init", "-q", repository])
        }
        guard status == 0 else { throw TestSetupError("git init failed: \(output)") }
        return sandbox
    }

    func stop() {
        api.stop()
        directory.remove()
    }

    /// The installed CLI: scripts/test.sh sets CLAUDE_TEST_BIN (scripts/install-claude-cli.sh).
    static var claudeBinary: String {
        if let path = ProcessInfo.processInfo.environment["CLAUDE_TEST_BIN"] { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/claude-cli/0.2.188/claude").path
    }

    func configuration(_ configure: (inout ClaudeConfiguration) -> Void = { _ in }) -> ClaudeConfiguration {
        let host = ProcessInfo.processInfo.environment.merging([
            "ANTHROPIC_BASE_URL": api.baseURL, "ANTHROPIC_API_KEY": "sk-test",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            // Must never reach the CLI: minimalEnvironment keeps only what Claude needs.
            "TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
        ]) { $1 }
        var configuration = ClaudeConfiguration(
            executable: Self.claudeBinary, environment: ClaudeConfiguration.minimalEnvironment(from: host, home: home))
        configuration.maxRetries = 1
        configure(&configuration)
        return configuration
    }

    func options(resume: Bool = false, sessionID: String = UUID().uuidString.lowercased()) -> SessionOptions {
        SessionOptions(workingDirectory: repository, sessionID: sessionID, resume: resume)
    }
}

/// A delegate whose answers the test chooses, recording what it was asked.
final class ScriptedDelegate: PermissionDelegate, @unchecked Sendable {
    // Guarded by `lock`; the CLI may ask concurrently.
    private let lock = NSLock()
    private var decide: @Sendable (PermissionRequest) async -> PermissionDecision
    private var asked: [PermissionRequest] = []
    private var withdrawn: [String] = []

    init(_ decide: @escaping @Sendable (PermissionRequest) async -> PermissionDecision) {
        self.decide = decide
    }

    static func allowAll() -> ScriptedDelegate { ScriptedDelegate { _ in .allow() } }

    func decide(_ request: PermissionRequest) async -> PermissionDecision {
        let decide = lock.withLock {
            asked.append(request)
            return self.decide
        }
        return await decide(request)
    }

    func withdraw(_ requestID: String) async { lock.withLock { withdrawn.append(requestID) } }

    var requests: [PermissionRequest] { lock.withLock { asked } }
    var withdrawals: [String] { lock.withLock { withdrawn } }
}

extension RunOutcome {
    var result: ResultMessage? {
        if case .result(let result) = self { return result }
        return nil
    }
}

/// Processes whose command line contains `text`, found through /proc (zombies have none).
func processes(commandLineContaining text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}

/// Living children of `parent`, from /proc.
func children(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return false }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[0] != "Z" && Int32(fields[1]) == parent
    }
}

/// "pid comm" of each zombie child, for failure messages.
func describeZombies() -> String {
    zombieChildren().map { pid in
        let stat = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/stat") ?? Data(), as: UTF8.self)
        return stat.split(separator: " ").prefix(2).joined(separator: " ")
    }.joined(separator: ", ")
}

/// Zombie children of this process: what a missing waitpid leaves behind.
func zombieChildren() -> [Int32] {
    let me = ProcessInfo.processInfo.processIdentifier
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return false }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[0] == "Z" && Int32(fields[1]) == me
    }
}

/// Polls until `condition` holds or `limit` passes.
func eventually(within limit: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
