import HTTPCore
import TestSupport
import Testing

@Suite struct HTTPServerShutdownTests {
    @Test func finishesTheRequestInFlightAndClosesIdleConnections() async throws {
        let gate = TestServer.Gate()
        let server = try TestServer.start(gate: gate)
        let busy = try server.client()
        let idle = try server.client()
        try await idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await idle.readResponse().status == 200)
        try await busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        while gate.entered == 0 { try await Task.sleep(for: .milliseconds(5)) }

        let shutdown = Task { await server.server.shutdown(gracePeriod: .seconds(10)) }
        // The idle connection is closed at once, without a response.
        #expect(try await idle.readUntilClosed().isEmpty)
        // No new connections are accepted.
        #expect(throws: (any Error).self) {
            let late = try server.client(timeout: 2)
            _ = late
        }
        gate.open()
        let response = try await busy.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "slow done\n")
        #expect(response.header("Connection") == "close")
        await shutdown.value
        #expect(server.server.connectionCount == 0)
    }

    @Test func closesBusyConnectionsWhenTheGracePeriodEnds() async throws {
        let gate = TestServer.Gate()
        let server = try TestServer.start(gate: gate)
        let busy = try server.client()
        try await busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        while gate.entered == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let shutdown = Task { await server.server.shutdown(gracePeriod: .milliseconds(200)) }
        let start = ContinuousClock.now
        await shutdown.value
        #expect(ContinuousClock.now - start < .seconds(5))
        gate.open()
    }
}
