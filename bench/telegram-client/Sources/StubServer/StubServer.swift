import Glibc
import HTTPCore
import Logging
import Synchronization

/// A Bot API stand-in that is not the bottleneck: our own HTTPServer answering every
/// `POST /bot<token>/sendMessage` with one fixed message.
///
///     stub-server --token 123:ABC [--port 0]
///
/// Binds 127.0.0.1, prints `READY port=N` once listening, exits on SIGTERM/SIGINT or when
/// its stdin reaches EOF (the driver is gone). Besides sendMessage:
///   GET  /__stub/stats  {"requests":N,"connections":M} since the last reset, where M counts
///                       distinct client addresses: one per TCP connection, so keep-alive shows
///   POST /__stub/reset  zeroes both
@main
struct StubServer {
    static let answer = Array(
        #"{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"x"}}"#.utf8)

    static func main() async {
        var token = ""
        var port = 0
        var arguments = Array(CommandLine.arguments.dropFirst())[...]
        while let argument = arguments.popFirst() {
            switch (argument, arguments.popFirst()) {
            case ("--token", let value?): token = value
            case ("--port", let value?) where Int(value) != nil: port = Int(value)!
            default: fail("usage: stub-server --token T [--port N]")
            }
        }
        guard !token.isEmpty else { fail("usage: stub-server --token T [--port N]") }

        signal(SIGTERM) { _ in _exit(0) }
        signal(SIGINT) { _ in _exit(0) }
        signal(SIGPIPE, SIG_IGN)

        let stats = Stats()
        var router = Router(defaultMaxBodyLength: 64 * 1024)
        router.add(.POST, "/bot\(token)/sendMessage") { request, context in
            stats.record(context.peer)
            guard !request.body.isEmpty else {
                return .json(.badRequest, Array(#"{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}"#.utf8))
            }
            return .json(.ok, answer)
        }
        router.add(.GET, "/__stub/stats") { _, _ in
            let (requests, connections) = stats.read()
            return .json(.ok, Array(#"{"requests":\#(requests),"connections":\#(connections)}"#.utf8))
        }
        router.add(.POST, "/__stub/reset") { _, _ in
            stats.reset()
            return .json(.ok, Array(#"{"ok":true}"#.utf8))
        }

        var logger = Logger(label: "stub-server")
        logger.logLevel = .error
        let server: HTTPServer
        do {
            server = try HTTPServer(
                configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port), router: router, logger: logger)
            try server.start()
        } catch {
            fail("stub-server: cannot start: \(error)")
        }
        watchStdin()
        print("READY port=\(server.port)")
        fflush(nil)  // all streams: `stdout` itself is shared mutable state to Swift 6
        await server.waitUntilStopped()
    }

    /// Counts requests and the distinct peers (host:port, i.e. connections) they came from.
    final class Stats: Sendable {
        private let state = Mutex<(requests: Int, peers: Set<Int>)>((0, []))

        func record(_ peer: SocketAddress) {
            state.withLock {
                $0.requests += 1
                $0.peers.insert(peer.port)  // all on 127.0.0.1: the port tells connections apart
            }
        }

        func read() -> (Int, Int) { state.withLock { ($0.requests, $0.peers.count) } }

        func reset() { state.withLock { $0 = (0, []) } }
    }

    /// Exits at EOF on stdin, from a thread of its own: a blocking read must not hold one of
    /// Swift's cooperative threads.
    static func watchStdin() {
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { _ in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(0, &buffer, buffer.count)
                    if count > 0 || (count < 0 && errno == EINTR) { continue }
                    _exit(0)
                }
            }, nil)
        if created == 0 { pthread_detach(thread) }
    }

    static func fail(_ message: String) -> Never {
        var text = message + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
}
