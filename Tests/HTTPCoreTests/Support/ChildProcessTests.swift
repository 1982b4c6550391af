import CLinux
import Glibc
import HTTPCore
import TestSupport
import Testing

/// The tests spawn fake servers and bots as child processes while other tests hold sockets
/// open. A child must inherit none of them: a socket a child holds is not closed when its
/// test closes it, and the peer waits for a FIN that comes only when the child exits.
@Suite struct ChildProcessTests {
    @Test func aChildInheritsOnlyItsStandardStreams() throws {
        // Neither close-on-exec nor a pipe of the child's own: only the spawn can keep it out.
        let stray = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(stray >= 0)
        defer { close(stray) }
        let (status, output) = try ChildProcess.run(["sh", "-c", "ls /proc/$$/fd"])
        let descriptors = Set(output.split(separator: "\n").compactMap { Int32($0) })
        #expect(status == 0)
        #expect(descriptors.isSuperset(of: [0, 1, 2]))
        #expect(!descriptors.contains(stray), "the child holds the test's socket \(stray): \(descriptors.sorted())")
    }

    @Test func aConnectionTheScriptedServerDropsIsSeenWhileAChildRuns() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"), .closeWithoutAnswer,
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"),
        ])
        var configuration = HTTPClientConfiguration()
        configuration.responseTimeout = .seconds(5)
        let client = try HTTPClient(configuration: configuration)
        let url = try HTTPClientURL("http://127.0.0.1:\(server.port)/")
        #expect(try await client.execute(.init(method: .GET, url: url)).body == Array("first".utf8))

        // Spawned while the server holds the connection: what a fake server started by a
        // test running in parallel does.
        let child = try ChildProcess(["sleep", "30"])
        defer { child.stop(within: .zero) }
        let second = try await client.execute(.init(method: .GET, url: url))
        #expect(second.body == Array("second".utf8), "the dropped connection was noticed and replaced")
        #expect(server.connectionCount == 2)
        client.shutdown()
        server.stop()
    }
}
