import Foundation
import TestSupport

/// A throwaway CA and server certificates signed by it, made with the openssl CLI.
struct TestCertificates {
    let directory: TemporaryDirectory
    var caFile: String { directory.path + "/ca.pem" }

    init() throws {
        directory = try TemporaryDirectory()
        try openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory.path + "/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=Bot Test CA")
    }

    /// A server certificate for `subjectAltName` (e.g. "DNS:localhost,IP:127.0.0.1"): (cert, key) paths.
    func serverCertificate(named name: String, subjectAltName: String) throws -> (cert: String, key: String) {
        let base = directory.path + "/" + name
        try openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(name)")
        let extensions = "subjectAltName=\(subjectAltName)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        try extensions.write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try openssl(
            "x509", "-req", "-in", base + ".csr", "-CA", caFile, "-CAkey", directory.path + "/ca.key",
            "-CAcreateserial", "-out", base + ".pem", "-days", "2", "-extfile", base + ".ext")
        return (base + ".pem", base + ".key")
    }

    func remove() { directory.remove() }

    private func openssl(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSetupError("openssl \(arguments.first ?? "") failed: \(String(decoding: output, as: UTF8.self))")
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Tests/FakeServers/tls_server.py as a child process; it exits when we close its stdin.
final class TLSTestServer {
    let port: Int
    private let process: Process
    private let input: Pipe

    init(cert: String, key: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("FakeServers/tls_server.py").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--cert", cert, "--key", key]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is "READY port=N".
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY port="), let port = Int(text.dropFirst("READY port=".count)) else {
            process.terminate()
            throw TestSetupError("tls_server.py did not start: \(text)")
        }
        self.port = port
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
