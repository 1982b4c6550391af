import Foundation

/// One of the Python fakes in Tests/FakeServers, run as a child process: it binds
/// 127.0.0.1 on a free port, prints `READY port=<N>`, and exits when its stdin closes,
/// so it cannot outlive the test process even if a test crashes.
public final class FakeServerProcess: @unchecked Sendable {
    // Immutable after start; `stop()` closes stdin and reaps the child, within bounds.
    public let port: Int
    private let child: ChildProcess

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Starts `script` (a file name in Tests/FakeServers) and waits for its READY line, off
    /// the cooperative pool.
    public static func start(script: String, arguments: [String] = []) async throws -> FakeServerProcess {
        try await offCooperativePool { try FakeServerProcess(script: script, arguments: arguments) }
    }

    private init(script: String, arguments: [String]) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FakeServers/\(script)").path
        child = try ChildProcess(["python3", path] + arguments)
        let line = child.readLine() ?? ""
        guard line.hasPrefix("READY port="), let port = Int(line.dropFirst("READY port=".count)) else {
            child.stop(within: .seconds(1))
            throw StartError(description: "\(script) did not start: '\(line)'")
        }
        self.port = port
    }

    /// Closing stdin makes the fake exit; it is reaped on a thread of its own (killed if it
    /// does not go in time), and this returns at once: a test's `defer` runs on the
    /// cooperative pool, and holding one of its two threads for seconds starves every other
    /// suite running meanwhile.
    public func stop() {
        let child = child
        DispatchQueue.global().async { child.stop(within: .seconds(5)) }
    }

    /// The same, returning once the fake is gone. Blocks: never call it on the cooperative pool.
    public func stopAndWait() {
        child.stop(within: .seconds(5))
    }
}
