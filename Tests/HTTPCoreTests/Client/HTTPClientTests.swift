import Foundation
import HTTPCore
import TestSupport
import Testing

@Suite struct HTTPClientTests {
    private func url(_ port: Int, _ path: String) throws -> HTTPClientURL {
        try HTTPClientURL("http://127.0.0.1:\(port)\(path)")
    }

    private func client(_ configure: (inout HTTPClientConfiguration) -> Void = { _ in }) throws -> HTTPClient {
        var configuration = HTTPClientConfiguration()
        configure(&configuration)
        return try HTTPClient(configuration: configuration)
    }

    @Test func sequentialRequestsShareOneKeptAliveConnection() async throws {
        let server = try TestServer.start()
        let client = try client()
        for index in 0..<5 {
            let response = try await client.execute(.init(method: .GET, url: try url(server.port, "/path?n=\(index)")))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "/path?n=\(index)\n")
        }
        #expect(client.openConnections(to: try url(server.port, "/")) == 1)
        client.shutdown()
        await server.stop()
    }

    @Test func concurrentRequestsStayWithinTheConnectionCap() async throws {
        let server = try TestServer.start()
        let client = try client { $0.maxConnectionsPerOrigin = 3 }
        let target = try url(server.port, "/echo")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                group.addTask {
                    let body = Array("request \(index)".utf8)
                    let response = try await client.execute(.init(method: .POST, url: target, body: .bytes(body)))
                    #expect(response.body == body)
                    #expect(client.openConnections(to: target) <= 3)
                }
            }
            try await group.waitForAll()
        }
        #expect(client.openConnections(to: target) <= 3)
        client.shutdown()
        await server.stop()
    }

    @Test func aMultipartFileIsStreamedFromDisk() async throws {
        let server = try TestServer.start()
        let client = try client()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/upload.bin"
        let content = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(content))

        var form = MultipartFormData(boundary: "test-boundary")
        form.addField("chat_id", "42")
        form.addFile("document", filename: "report \"1\".bin", contentType: "application/octet-stream", path: path, size: content.count)
        let response = try await client.execute(
            .init(method: .POST, url: try url(server.port, "/echo"), headers: ["Content-Type": form.contentType], body: form.body))

        let expected =
            Array("--test-boundary\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n".utf8)
            + Array("--test-boundary\r\nContent-Disposition: form-data; name=\"document\"; filename=\"report %221%22.bin\"\r\n".utf8)
            + Array("Content-Type: application/octet-stream\r\n\r\n".utf8) + content
            + Array("\r\n--test-boundary--\r\n".utf8)
        #expect(response.body == expected)
        client.shutdown()
        await server.stop()
    }

    @Test func aFileShorterThanAnnouncedFailsTheRequestAndTheConnection() async throws {
        let server = try TestServer.start()
        let client = try client()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/short.bin"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        let request = HTTPClientRequest(method: .POST, url: try url(server.port, "/echo"), body: .segments([.file(path: path, size: 10)]))
        await #expect(throws: HTTPClientError.fileError(path: path, reason: "shorter than the 10 bytes announced")) {
            _ = try await client.execute(request)
        }
        #expect(client.openConnections(to: request.url) == 0, "a half-sent request leaves the connection unusable")
        client.shutdown()
        await server.stop()
    }

    @Test func chunkedAndCloseDelimitedBodiesAreRead() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"),
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnext"),
        ])
        let client = try client()
        let chunked = try await client.execute(.init(method: .GET, url: try url(server.port, "/a")))
        #expect(String(decoding: chunked.body, as: UTF8.self) == "hello, world")
        let second = try await client.execute(.init(method: .GET, url: try url(server.port, "/b")))
        #expect(String(decoding: second.body, as: UTF8.self) == "nex")
        #expect(server.connectionCount == 1, "the chunked response left the connection reusable")

        server.enqueue(.respond("HTTP/1.1 200 OK\r\n\r\nuntil the end", close: true))
        let untilClose = try await client.execute(.init(method: .GET, url: try url(server.port, "/c")))
        #expect(String(decoding: untilClose.body, as: UTF8.self) == "until the end")
        #expect(client.openConnections(to: try url(server.port, "/")) == 0)
        client.shutdown()
        server.stop()
    }

    @Test func aBodyOverTheLimitIsRefusedAndItsConnectionDropped() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100)),
            .respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + String(repeating: "y", count: 64) + "\r\n0\r\n\r\n"),
        ])
        let client = try client { $0.maxResponseBodyLength = 50 }
        let origin = "http://127.0.0.1:\(server.port)"
        await #expect(throws: HTTPClientError.responseTooLarge(origin: origin, limit: 50)) {
            _ = try await client.execute(.init(method: .GET, url: try url(server.port, "/big")))
        }
        await #expect(throws: HTTPClientError.responseTooLarge(origin: origin, limit: 50)) {
            _ = try await client.execute(.init(method: .GET, url: try url(server.port, "/big-chunked")))
        }
        #expect(server.connectionCount == 2)
        client.shutdown()
        server.stop()
    }

    @Test func aMalformedResponseIsAnErrorNotACrash() async throws {
        let server = try ScriptedHTTPServer(script: [.respond("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")])
        let client = try client()
        await #expect(throws: HTTPClientError.malformedResponse(origin: "http://127.0.0.1:\(server.port)", reason: "conflicting Content-Length values")) {
            _ = try await client.execute(.init(method: .GET, url: try url(server.port, "/")))
        }
        client.shutdown()
        server.stop()
    }

    @Test func aSilentServerTimesOutAndItsConnectionIsNotReused() async throws {
        let server = try ScriptedHTTPServer(script: [.hang])
        let client = try client { $0.responseTimeout = .milliseconds(300) }
        let started = ContinuousClock.now
        await #expect(throws: HTTPClientError.timedOut(origin: "http://127.0.0.1:\(server.port)", phase: .responseHead)) {
            _ = try await client.execute(.init(method: .GET, url: try url(server.port, "/")))
        }
        // The 300 ms timeout, not the default 30 s (loose: parallel tests share two cores).
        #expect(ContinuousClock.now - started < .seconds(15))
        // The same client, on a new connection; its own timeout is generous so that a full
        // test run's load cannot turn a prompt answer into a second timeout.
        let next = try await client.execute(.init(method: .GET, url: try url(server.port, "/")), responseTimeout: .seconds(20))
        #expect(next.status == 200)
        #expect(server.connectionCount == 2)
        client.shutdown()
        server.stop()
    }

    @Test func cancellingARequestEndsItAtOnceAndDropsItsConnection() async throws {
        let server = try ScriptedHTTPServer(script: [.hang])
        let client = try client { $0.responseTimeout = .seconds(30) }
        let target = try url(server.port, "/long-poll")
        let request = Task { try await client.execute(.init(method: .GET, url: target)) }
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        let started = clock.now
        request.cancel()
        await #expect(throws: HTTPClientError.cancelled) { _ = try await request.value }
        // Far below the 30 s response timeout (loose: parallel tests share two cores).
        #expect(clock.now - started < .seconds(15))
        #expect(client.openConnections(to: target) == 0)
        client.shutdown()
        server.stop()
    }

    @Test func aPooledConnectionTheServerClosedIsReplacedTransparently() async throws {
        // The server answers, then drops the connection without a word when the next request comes.
        let server = try ScriptedHTTPServer(script: [
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"), .closeWithoutAnswer,
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"),
        ])
        let client = try client()
        #expect(try await client.execute(.init(method: .GET, url: try url(server.port, "/1"))).body == Array("first".utf8))
        let second = try await client.execute(.init(method: .POST, url: try url(server.port, "/2"), body: .bytes([1])))
        #expect(second.body == Array("second".utf8))
        #expect(server.connectionCount == 2)
        #expect(server.requests.count == 3, "the dropped request was sent once more, on a new connection")
        client.shutdown()
        server.stop()
    }

    @Test func aServerThatClosesIdleConnectionsIsNoticedBeforeReuse() async throws {
        let server = try TestServer.start { $0.idleTimeout = .milliseconds(200) }
        let client = try client()
        #expect(try await client.execute(.init(method: .GET, url: try url(server.port, "/hello"))).status == 200)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await client.execute(.init(method: .GET, url: try url(server.port, "/hello"))).status == 200)
        client.shutdown()
        await server.stop()
    }

    @Test func aRefusedConnectionIsReportedWithItsOrigin() async throws {
        let port = freeLoopbackPort()
        let client = try client()
        let target = try url(port, "/")
        do throws(HTTPClientError) {
            _ = try await client.execute(.init(method: .GET, url: target))
            Issue.record("expected a failure")
        } catch {
            guard case .connectFailed(let origin, let reason) = error else { throw error as any Error }
            #expect(origin == "127.0.0.1:\(port)")
            #expect(reason.contains("Connection refused"))
            #expect(error.isTransient)
        }
        client.shutdown()
    }

    @Test func aDownloadLandsInTheFileOnlyWhenComplete() async throws {
        let payload = String(repeating: "0123456789", count: 20_000)
        let server = try ScriptedHTTPServer(script: [
            .respond("HTTP/1.1 200 OK\r\nContent-Length: \(payload.utf8.count)\r\n\r\n" + payload),
            .respond("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short", close: true),
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\neleven byte"),
        ])
        let client = try client()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }

        let done = try await client.download(.init(method: .GET, url: try url(server.port, "/f")), to: directory.path + "/a", maxLength: 1 << 20)
        #expect(done.byteCount == payload.utf8.count)
        #expect(try String(contentsOfFile: directory.path + "/a", encoding: .utf8) == payload)

        let missing = try await client.download(.init(method: .GET, url: try url(server.port, "/g")), to: directory.path + "/b", maxLength: 1 << 20)
        #expect(missing.head.status == 404)
        #expect(missing.errorBody == Array("not found".utf8))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/b"))

        await #expect(throws: HTTPClientError.self) {
            _ = try await client.download(.init(method: .GET, url: try url(server.port, "/h")), to: directory.path + "/c", maxLength: 1 << 20)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["a"], "no partial file is left behind")

        await #expect(throws: HTTPClientError.responseTooLarge(origin: "http://127.0.0.1:\(server.port)", limit: 10)) {
            _ = try await client.download(.init(method: .GET, url: try url(server.port, "/i")), to: directory.path + "/d", maxLength: 10)
        }
        client.shutdown()
        server.stop()
    }

    @Test func headerInjectionIsRefused() async throws {
        let client = try client()
        let request = HTTPClientRequest(method: .GET, url: try url(1, "/"), headers: ["X-Evil": "a\r\nHost: other"])
        let server = try ScriptedHTTPServer()
        var aimed = request
        aimed.url = try url(server.port, "/")
        await #expect(throws: HTTPClientError.invalidRequest("invalid header field X-Evil")) {
            _ = try await client.execute(aimed)
        }
        #expect(server.requests.isEmpty)
        client.shutdown()
        server.stop()
    }

    @Test func urlsAreParsedStrictly() throws {
        let plain = try HTTPClientURL("HTTP://API.Example.org:8081/bot1:x/getMe?a=b#frag")
        #expect(plain.scheme == .http)
        #expect(plain.host == "api.example.org")
        #expect(plain.port == 8081)
        #expect(plain.target == "/bot1:x/getMe?a=b")
        #expect(try HTTPClientURL("https://api.telegram.org").target == "/")
        #expect(try HTTPClientURL("https://api.telegram.org").port == 443)
        #expect(try HTTPClientURL("http://[::1]:99/x").host == "::1")
        #expect(try HTTPClientURL("http://h?q=1").target == "/?q=1")
        for bad in ["ftp://x/", "api.telegram.org/x", "http://user:pw@host/", "http://host:0/", "http://host:70000/", "http:// host/", "http:///x", "http://[::1/"] {
            #expect(throws: HTTPClientError.self, "\(bad)") { _ = try HTTPClientURL(bad) }
        }
        // A token in the path must not reach error messages.
        let refusal = try #require(throws: HTTPClientError.self) { _ = try HTTPClientURL("http://host:0/bot123:SECRET/getMe") }
        #expect(!refusal.description.contains("SECRET"))
    }
}
