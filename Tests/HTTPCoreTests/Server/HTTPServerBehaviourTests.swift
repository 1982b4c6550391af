import HTTPCore
import TestSupport
import Testing

@Suite struct HTTPServerBehaviourTests {
    @Test func answersAGetAndKeepsTheConnectionAlive() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try await client.readResponse()
        #expect(first.status == 200)
        #expect(first.bodyText == "hello\n")
        #expect(first.header("Connection") == nil)
        #expect(first.header("Date")?.hasSuffix(" GMT") == true)
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        await server.stop()
    }

    @Test func headGetsTheHeadersOfGetWithoutTheBody() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try await client.readResponse(headRequest: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "6")
        // If HEAD had carried a body, these bytes would be read as the next status line.
        let get = try await client.readResponse()
        #expect(get.bodyText == "hello\n")
        await server.stop()
    }

    @Test func answersPipelinedRequestsInOrder() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        let requests = (1...5).map { "GET /path?n=\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
        try await client.send(requests + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        for n in 1...5 {
            #expect(try await client.readResponse().bodyText == "/path?n=\(n)\n")
        }
        #expect(try await client.readResponse().bodyText == "abc")
        await server.stop()
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        let server = try TestServer.start()
        let plain = try server.client()
        try await plain.send("GET /hello HTTP/1.0\r\n\r\n")
        let response = try await plain.readResponse()
        #expect(response.header("Connection") == "close")
        #expect(try await plain.readUntilClosed().isEmpty)

        let keepAlive = try server.client()
        try await keepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try await keepAlive.readResponse().header("Connection") == "keep-alive")
        try await keepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try await keepAlive.readResponse().status == 200)
        await server.stop()
    }

    @Test func connectionCloseIsHonoured() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try await client.readResponse().header("Connection") == "close")
        #expect(try await client.readUntilClosed().isEmpty)
        await server.stop()
    }

    @Test func decodesAChunkedBody() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: yes\r\n\r\n")
        #expect(try await client.readResponse().bodyText == "hello, world")
        await server.stop()
    }

    @Test func sends100ContinueBeforeReadingTheBody() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try await client.readResponse()
        #expect(interim.status == 100)
        try await client.send("ping")
        #expect(try await client.readResponse().bodyText == "ping")
        await server.stop()
    }

    @Test func refusesAnOversizedBodyInsteadOfInvitingIt() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n")
        let response = try await client.readResponse()
        #expect(response.status == 413)
        #expect(response.header("Connection") == "close")
        await server.stop()
    }

    @Test func unknownPathsAndMethodsGet404And405() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse().status == 404)
        try await client.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let notAllowed = try await client.readResponse()
        #expect(notAllowed.status == 405)
        #expect(notAllowed.header("Allow") == "GET, HEAD")
        await server.stop()
    }

    @Test func aThrowingHandlerGets500AndTheConnectionSurvives() async throws {
        let server = try TestServer.start()
        let client = try server.client()
        try await client.send("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse().status == 500)
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        await server.stop()
    }

    @Test func manyConcurrentConnectionsAreServed() async throws {
        let server = try TestServer.start()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let client = try server.client()
                    var ok = 0
                    for _ in 0..<10 {
                        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                        if try await client.readResponse().status == 200 { ok += 1 }
                    }
                    return ok
                }
            }
            var total = 0
            for try await ok in group { total += ok }
            #expect(total == 500)
        }
        await server.stop()
    }
}
