import HTTPCore
import TestSupport
import Testing

/// Every bound a client could push against: each answered with its status, then the connection is closed.
@Suite struct HTTPServerLimitsTests {
    private func expectRejected(_ raw: String, status: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send(raw)
        let response = try await client.readResponse()
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.header("Connection") == "close", sourceLocation: sourceLocation)
        #expect(try await client.readUntilClosed().isEmpty, sourceLocation: sourceLocation)
        await server.stop()
    }

    @Test func oversizedHeadersGet431() async throws {
        let filler = String(repeating: "a", count: 17 * 1024)
        try await expectRejected("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: \(filler)\r\n\r\n", status: 431)
    }

    @Test func tooManyHeaderFieldsGet431() async throws {
        let fields = (0..<101).map { "X-\($0): v\r\n" }.joined()
        try await expectRejected("GET /hello HTTP/1.1\r\nHost: x\r\n\(fields)\r\n", status: 431)
    }

    @Test func anOverlongTargetGets414() async throws {
        try await expectRejected("GET /\(String(repeating: "p", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n", status: 414)
    }

    @Test func anOversizedBodyGets413() async throws {
        try await expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", status: 413)
    }

    @Test func anOversizedChunkedBodyGets413() async throws {
        let chunk = String(repeating: "z", count: 0x8000)
        try await expectRejected(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n\(chunk)\r\n8000\r\n\(chunk)\r\n1\r\nz\r\n0\r\n\r\n",
            status: 413)
    }

    @Test func garbageGets400() async throws {
        try await expectRejected("HELLO THERE\r\n\r\n", status: 400)
    }

    @Test func smugglingShapesGet400() async throws {
        try await expectRejected(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400)
        try await expectRejected(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400)
    }

    @Test func aPostWithoutLengthGets411() async throws {
        try await expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", status: 411)
    }

    @Test func anotherHTTPVersionGets505() async throws {
        try await expectRejected("GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", status: 505)
    }

    @Test func anUnknownMethodGets501() async throws {
        try await expectRejected("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", status: 501)
    }

    @Test func aSlowLorisIsCutOffWith408() async throws {
        let server = try TestServer.start { $0.headerTimeout = .milliseconds(300) }
        let client = try server.client()
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
        // Keep dribbling header bytes: the deadline is for the whole head, not per byte.
        let dribble = Task { try? await client.trickle("X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", pause: .milliseconds(50)) }
        let response = try await client.readResponse()
        #expect(response.status == 408)
        dribble.cancel()
        await server.stop()
    }

    @Test func aStalledBodyIsCutOff() async throws {
        let server = try TestServer.start {
            $0.bodyGracePeriod = .milliseconds(300)
            $0.minimumBodyBytesPerSecond = 1000
        }
        let client = try server.client()
        try await client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc")
        let response = try await client.readResponse()
        #expect(response.status == 408)
        await server.stop()
    }

    @Test func anIdleKeepAliveConnectionIsClosed() async throws {
        let server = try TestServer.start { $0.idleTimeout = .milliseconds(300) }
        let client = try server.client()
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        // No response is owed to an idle connection: it is just closed.
        #expect(try await client.readUntilClosed().isEmpty)
        // The slot is released just after the socket closes.
        for _ in 0..<200 where server.server.connectionCount > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(server.server.connectionCount == 0)
        await server.stop()
    }

    @Test func connectionsOverTheCapGet503AndAreClosed() async throws {
        let server = try TestServer.start { $0.maxConnections = 2 }
        let first = try server.client()
        let second = try server.client()
        for client in [first, second] {
            try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
        }
        let third = try server.client()
        let refused = try await third.readResponse()
        #expect(refused.status == 503)
        #expect(try await third.readUntilClosed().isEmpty)
        // The slots are still held by the first two, which keep working.
        try await first.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await first.readResponse().status == 200)
        await server.stop()
    }
}
