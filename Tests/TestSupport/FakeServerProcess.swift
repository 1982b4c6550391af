import Foundation

/// One of the Python fakes in Tests/FakeServers, run as a child process: it binds
/// 127.0.0.1 on a free port, prints `READY port=<N>`, and exits when its stdin closes,
/// so it cannot outlive the test process even if a test crashes.
public final class FakeServerProcess: @unchecked Sendable {
    // Immutable after init; `stop()` only closes a pipe and waits.
    public let port: Int
    private let process: Process
    private let input: Pipe

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// `script` is a file name in Tests/FakeServers.
    public init(script: String, arguments: [String] = []) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FakeServers/\(script)").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", path] + arguments
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY port="), let port = Int(text.dropFirst("READY port=".count)) else {
            process.terminate()
            throw StartError(description: "\(script) did not start: '\(text)'")
        }
        self.port = port
    }

    public func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
