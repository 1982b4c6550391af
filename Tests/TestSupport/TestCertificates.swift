import Foundation

/// A throwaway CA and server certificates signed by it, made with the openssl CLI
/// (installed by scripts/install-dependencies.sh).
public struct TestCertificates: Sendable {
    public let directory: TemporaryDirectory
    public var caFile: String { directory.path + "/ca.pem" }

    public static func make() async throws -> TestCertificates {
        try await offCooperativePool { try TestCertificates() }
    }

    private init() throws {
        directory = try TemporaryDirectory()
        try openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory.path + "/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=Bot Test CA")
    }

    /// A server certificate for `subjectAltName` (e.g. "DNS:localhost,IP:127.0.0.1"): (cert, key) paths.
    public func serverCertificate(named name: String, subjectAltName: String) async throws -> (cert: String, key: String) {
        try await offCooperativePool { try self.makeServerCertificate(named: name, subjectAltName: subjectAltName) }
    }

    private func makeServerCertificate(named name: String, subjectAltName: String) throws -> (cert: String, key: String) {
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

    /// A certificate that is its own issuer (what `webhook set` must upload): (cert, key) paths.
    public func selfSignedCertificate(named name: String, subjectAltName: String) async throws -> (cert: String, key: String) {
        try await offCooperativePool { try self.makeSelfSignedCertificate(named: name, subjectAltName: subjectAltName) }
    }

    private func makeSelfSignedCertificate(named name: String, subjectAltName: String) throws -> (cert: String, key: String) {
        let base = directory.path + "/" + name
        try openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", base + ".key", "-out", base + ".pem", "-days", "2", "-subj", "/CN=\(name)",
            "-addext", "subjectAltName=\(subjectAltName)")
        return (base + ".pem", base + ".key")
    }

    public func remove() { directory.remove() }

    private func openssl(_ arguments: String...) throws {
        let (status, output) = try ChildProcess.run(["openssl"] + arguments)
        guard status == 0 else { throw TestSetupError("openssl \(arguments.first ?? "") failed: \(output)") }
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

