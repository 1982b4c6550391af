import TestSupport

/// Tests/FakeServers/tls_server.py serving with the given certificate.
func startTLSTestServer(cert: String, key: String) async throws -> FakeServerProcess {
    try await FakeServerProcess.start(script: "tls_server.py", arguments: ["--cert", cert, "--key", key])
}
