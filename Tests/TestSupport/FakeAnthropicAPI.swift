import ClaudeRunner
import Foundation

/// Tests/FakeServers/fake_anthropic_api.py: the Messages API the real CLI talks to in tests,
/// answering each model turn from a script (see its docstring for the format).
public final class FakeAnthropicAPI: Sendable {
    public let process: FakeServerProcess
    public var baseURL: String { "http://127.0.0.1:\(process.port)" }

    public static func start() async throws -> FakeAnthropicAPI {
        FakeAnthropicAPI(process: try await FakeServerProcess.start(script: "fake_anthropic_api.py", arguments: ["--port", "0"]))
    }

    private init(process: FakeServerProcess) { self.process = process }

    /// Returns at once; the fake is reaped in the background.
    public func stop() { process.stop() }
    /// Blocks until the fake is gone: never on the cooperative pool.
    public func stopAndWait() { process.stopAndWait() }

    public func script(_ turns: [JSONValue]) async throws {
        _ = try await control("POST", "/__fake/script", ["turns": .array(turns)])
    }

    /// Main-loop requests the CLI made, oldest first.
    public func mainRequests() async throws -> [JSONValue] {
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

/// The real Claude Code CLI the tests run: scripts/test.sh installs it
/// (scripts/install-claude-cli.sh) and sets CLAUDE_TEST_BIN.
public enum ClaudeCLI {
    public static var testBinary: String {
        if let path = ProcessInfo.processInfo.environment["CLAUDE_TEST_BIN"] { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/claude-cli/0.2.188/claude").path
    }
}

/// Polls until `condition` holds or `limit` passes.
public func eventually(within limit: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// Processes whose command line contains `text`, found through /proc (zombies have none).
public func processes(commandLineContaining text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}

/// Processes whose working directory is `path` (a CLI runs in its project's).
public func processes(workingIn path: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == path
    }
}
