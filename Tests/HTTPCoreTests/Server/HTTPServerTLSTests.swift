import HTTPCore
import TestSupport
import Testing

/// The server speaking HTTPS itself (no proxy), with a certificate from a CA made for the
/// test, checked with our own client, which verifies the chain and the host name.
@Suite struct HTTPServerTLSTests {
    private func withTLSServer(
        configure: (inout HTTPServerConfiguration) -> Void = { _ in },
        _ body: (TestServer, TestCertificates) async throws -> Void
    ) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (cert, key) = try await certificates.serverCertificate(named: "server", subjectAltName: "DNS:localhost,IP:127.0.0.1")
        let server = try TestServer.start { configuration in
            configuration.tls = TLSFiles(certificateChainPath: cert, privateKeyPath: key)
            configure(&configuration)
        }
        try await body(server, certificates)
        await server.stop()
    }

    @Test func servesHTTPSWithKeepAlive() async throws {
        try await withTLSServer { server, certificates in
            var configuration = HTTPClientConfiguration()
            configuration.trustedCAFile = certificates.caFile
            let client = try HTTPClient(configuration: configuration)
            defer { client.shutdown() }
            for index in 0..<3 {
                let response = try await client.execute(.init(method: .GET, url: try HTTPClientURL("https://localhost:\(server.port)/path?i=\(index)")))
                #expect(response.status == 200)
                #expect(String(decoding: response.body, as: UTF8.self) == "/path?i=\(index)\n")
            }
            let body = (0..<50_000).map { UInt8(truncatingIfNeeded: $0) }
            let echo = try await client.execute(
                .init(method: .POST, url: try HTTPClientURL("https://localhost:\(server.port)/echo"), body: .bytes(body)))
            #expect(echo.body == body)
            #expect(server.server.connectionCount == 1, "one TLS connection carried every request")
        }
    }

    @Test func plainHTTPOnTheTLSPortIsDroppedAndTheServerGoesOn() async throws {
        try await withTLSServer { server, certificates in
            let raw = try server.client(timeout: 5)
            try await raw.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await raw.readUntilClosed()
            var configuration = HTTPClientConfiguration()
            configuration.trustedCAFile = certificates.caFile
            let client = try HTTPClient(configuration: configuration)
            defer { client.shutdown() }
            let response = try await client.execute(.init(method: .GET, url: try HTTPClientURL("https://localhost:\(server.port)/hello")))
            #expect(response.status == 200)
        }
    }

    @Test func aClientThatNeverHandshakesIsCutOff() async throws {
        try await withTLSServer(configure: { $0.headerTimeout = .milliseconds(300) }) { server, _ in
            let raw = try server.client(timeout: 30)
            let clock = ContinuousClock()
            let started = clock.now
            _ = try await raw.readUntilClosed()
            // The configured 300 ms header timeout cut it off, not the 10 s default: 8 s still
            // tells the two apart and leaves a loaded machine plenty of room.
            #expect(clock.now - started < .seconds(8), "cut off after \(clock.now - started), not by the 300 ms header timeout")
            // The slot is freed right after the socket closes.
            for _ in 0..<100 where server.server.connectionCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.server.connectionCount == 0)
        }
    }

    @Test func anUnusableKeyIsAStartUpError() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (cert, _) = try await certificates.serverCertificate(named: "one", subjectAltName: "DNS:localhost")
        let (_, otherKey) = try await certificates.serverCertificate(named: "two", subjectAltName: "DNS:localhost")
        #expect(throws: HTTPServerError.self) {
            _ = try TestServer.start { $0.tls = TLSFiles(certificateChainPath: cert, privateKeyPath: otherKey) }
        }
        #expect(throws: HTTPServerError.self) {
            _ = try TestServer.start { $0.tls = TLSFiles(certificateChainPath: "/nonexistent.pem", privateKeyPath: otherKey) }
        }
    }
}
