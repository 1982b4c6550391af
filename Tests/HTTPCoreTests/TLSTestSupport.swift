import TestSupport

/// Tests/FakeServers/tls_server.py serving with the given certificate.
func startTLSTestServer(cert: String, key: String) throws -> FakeServerProcess {
    try FakeServerProcess(script: "tls_server.py", arguments: ["--cert", cert, "--key", key])
}
