import Foundation
import HTTPCore
import TestSupport
import Testing

@testable import BotServer

/// HTTPS without a proxy: the bot serves TLS itself and registers a self-signed certificate.
@Suite(.timeLimit(.minutes(3))) struct DirectHTTPSTests {
    @Test func theWebhookIsServedOverTLS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (cert, key) = try await certificates.selfSignedCertificate(named: "bot", subjectAltName: "DNS:localhost,IP:127.0.0.1")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let env = BotProcess.environment(dataDirectory: directory.path, port: port, extra: ["TLS_CERT_FILE": cert, "TLS_KEY_FILE": key])
        var configuration = HTTPClientConfiguration()
        configuration.trustedCAFile = cert  // self-signed: the certificate is its own CA
        let client = try HTTPClient(configuration: configuration)
        defer { client.shutdown() }

        let (status, log) = try await BotProcess.run(environment: env) { execution in
            var ready = false
            for _ in 0..<300 where !ready {
                ready = (try? await client.execute(.init(method: .GET, url: try HTTPClientURL("https://localhost:\(port)/readyz"))))?.status == 200
                if !ready { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(ready)
            let response = try await client.execute(.init(
                method: .POST, url: try HTTPClientURL("https://localhost:\(port)/telegram/webhook"),
                headers: ["X-Telegram-Bot-Api-Secret-Token": BotProcess.secret, "Content-Type": "application/json"],
                body: .bytes(Fixtures.textUpdate(id: 4242))))
            #expect(response.status == 200)
            // Plain HTTP on the TLS port gets nowhere.
            #expect((try? await RawHTTPClient.request(port: port, path: "/healthz")) == nil)
            try execution.send(signal: .terminate)
        }
        #expect(status == .exited(0), "\(log)")
        #expect(log.contains("update delivered"))
    }

    @Test func aSelfSignedCertificateIsUploadedWithSetWebhook() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.stop() }
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (selfSigned, selfSignedKey) = try await certificates.selfSignedCertificate(named: "self", subjectAltName: "IP:203.0.113.7")
        let (caSigned, caSignedKey) = try await certificates.serverCertificate(named: "signed", subjectAltName: "DNS:bot.example.com")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }

        func set(cert: String, key: String, publicURL: String) async throws -> (output: String, log: String) {
            let env = BotProcess.environment(
                dataDirectory: directory.path, port: freeLoopbackPort(),
                extra: ["TELEGRAM_API_BASE_URL": fake.baseURL, "PUBLIC_URL": publicURL, "TLS_CERT_FILE": cert, "TLS_KEY_FILE": key])
            let result = try await BotProcess.command(["webhook", "set"], environment: env)
            #expect(result.status == .exited(0), "\(result.log)")
            return (result.output, result.log)
        }

        let uploaded = try await set(cert: selfSigned, key: selfSignedKey, publicURL: "https://203.0.113.7:8443")
        #expect(uploaded.output.contains("self-signed certificate uploaded"))
        let first = try #require(try await fake.calls(method: "setWebhook").first)
        #expect(first.ok)
        #expect(first.params["url"] as? String == "https://203.0.113.7:8443/telegram/webhook")
        #expect(first.params["allowed_updates"] as? [String] == Update.handledKinds)
        let file = try #require(first.files["certificate"] as? [String: Any])
        #expect(file["size"] as? Int == (try FileManager.default.attributesOfItem(atPath: selfSigned)[.size] as? Int))

        _ = try await set(cert: caSigned, key: caSignedKey, publicURL: "https://bot.example.com")
        let second = try #require(try await fake.calls(method: "setWebhook").last)
        #expect(second.ok)
        #expect(second.files.isEmpty, "a CA-signed certificate is not uploaded")
    }

    @Test func aCertificateWithoutItsKeyIsAConfigurationError() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let env = BotProcess.environment(dataDirectory: directory.path, port: freeLoopbackPort(), extra: ["TLS_CERT_FILE": "/tmp/x.pem"])
        let (status, log) = try await BotProcess.run(environment: env)
        #expect(status == .exited(2))
        #expect(log.contains("TLS_KEY_FILE"))
    }
}
