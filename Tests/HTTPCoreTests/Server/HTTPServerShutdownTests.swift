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
        try #require(await eventually(within: .seconds(30)) { gate.entered > 0 }, "the slow handler was never entered")

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
        try #require(await eventually(within: .seconds(30)) { gate.entered > 0 }, "the slow handler was never entered")
        let finished = TestServer.Gate()
        let start = ContinuousClock.now
        Task {
            await server.server.shutdown(gracePeriod: .milliseconds(200))
            finished.open()
        }
        // The handler is held until after this check, so only the 200 ms grace period can end
        // the shutdown: without it, it never returns. 30 s is far beyond any loaded machine's
        // 200 ms, and waiting on a flag (not on the task) makes a hang a failure, not a hang.
        let ended = await eventually(within: .seconds(30)) { finished.isOpen }
        #expect(ended, "shutdown still waits for the busy connection \(ContinuousClock.now - start) after a 200 ms grace period")
        gate.open()
    }
}
