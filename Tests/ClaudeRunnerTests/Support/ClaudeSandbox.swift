import ClaudeRunner
import Foundation
import TestSupport

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

    /// Returns at once (a test's `defer` runs on the cooperative pool): the fake is stopped
    /// and the files removed on a thread of their own.
    func stop() {
        let (api, directory) = (api, directory)
        DispatchQueue.global().async {
            api.stopAndWait()
            directory.remove()
        }
    }

    static var claudeBinary: String { ClaudeCLI.testBinary }

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
