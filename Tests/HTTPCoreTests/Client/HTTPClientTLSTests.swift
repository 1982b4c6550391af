import HTTPCore
import TestSupport
import Testing

/// The client against a real TLS server (Python's ssl module) with certificates from a CA made
/// for the test: verification must succeed only with that CA trusted and the right host name.
@Suite(.serialized) struct HTTPClientTLSTests {
    private func withServer(
        subjectAltName: String, _ body: (TestCertificates, FakeServerProcess) async throws -> Void
    ) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (cert, key) = try await certificates.serverCertificate(named: "server", subjectAltName: subjectAltName)
        let server = try await startTLSTestServer(cert: cert, key: key)
        defer { server.stop() }
        try await body(certificates, server)
    }

    private func client(trusting caFile: String?) throws -> HTTPClient {
        var configuration = HTTPClientConfiguration()
        configuration.trustedCAFile = caFile
        return try HTTPClient(configuration: configuration)
    }

    @Test func aCertificateFromTheConfiguredCAIsAcceptedAndTheConnectionKept() async throws {
        try await withServer(subjectAltName: "DNS:localhost") { certificates, server in
            let client = try client(trusting: certificates.caFile)
            defer { client.shutdown() }
            for index in 0..<3 {
                let url = try HTTPClientURL("https://localhost:\(server.port)/n\(index)")
                let response = try await client.execute(.init(method: .GET, url: url))
                #expect(response.status == 200)
                #expect(String(decoding: response.body, as: UTF8.self) == "hello over tls /n\(index)")
            }
            let post = try await client.execute(
                .init(method: .POST, url: try HTTPClientURL("https://localhost:\(server.port)/echo"), body: .bytes(Array(repeating: 7, count: 100_000))))
            #expect(post.body == Array(repeating: 7, count: 100_000))
            #expect(client.openConnections(to: try HTTPClientURL("https://localhost:\(server.port)/")) == 1)
        }
    }

    @Test func anIPAddressIsCheckedAgainstTheIPInTheCertificate() async throws {
        try await withServer(subjectAltName: "IP:127.0.0.1") { certificates, server in
            let client = try client(trusting: certificates.caFile)
            defer { client.shutdown() }
            let response = try await client.execute(.init(method: .GET, url: try HTTPClientURL("https://127.0.0.1:\(server.port)/ip")))
            #expect(response.status == 200)
        }
    }

    @Test func withoutTheCATheCertificateIsRejected() async throws {
        try await withServer(subjectAltName: "DNS:localhost") { _, server in
            let client = try client(trusting: nil)  // the system trust store does not know the test CA
            defer { client.shutdown() }
            let url = try HTTPClientURL("https://localhost:\(server.port)/")
            do throws(HTTPClientError) {
                _ = try await client.execute(.init(method: .GET, url: url))
                Issue.record("expected the certificate to be rejected")
            } catch {
                guard case .certificateRejected(_, let reason) = error else { throw error as any Error }
                #expect(reason.contains("local issuer"))
            }
        }
    }

    @Test func aCertificateForAnotherHostIsRejected() async throws {
        try await withServer(subjectAltName: "DNS:wrong.example") { certificates, server in
            let client = try client(trusting: certificates.caFile)
            defer { client.shutdown() }
            let url = try HTTPClientURL("https://localhost:\(server.port)/")
            do throws(HTTPClientError) {
                _ = try await client.execute(.init(method: .GET, url: url))
                Issue.record("expected the host name check to fail")
            } catch {
                guard case .certificateRejected(_, let reason) = error else { throw error as any Error }
                #expect(reason.contains("mismatch"))
            }
        }
    }

    @Test func aMissingCAFileIsAConfigurationError() {
        #expect(throws: HTTPClientError.self) { _ = try client(trusting: "/nonexistent/ca.pem") }
    }

    @Test func plainHTTPToATLSPortFailsCleanly() async throws {
        try await withServer(subjectAltName: "DNS:localhost") { _, server in
            var configuration = HTTPClientConfiguration()
            configuration.responseTimeout = .seconds(2)
            let client = try HTTPClient(configuration: configuration)
            defer { client.shutdown() }
            await #expect(throws: HTTPClientError.self) {
                _ = try await client.execute(.init(method: .GET, url: try HTTPClientURL("http://localhost:\(server.port)/")))
            }
        }
    }
}
