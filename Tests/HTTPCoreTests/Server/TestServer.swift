import HTTPCore
import TestSupport
import Logging
import Synchronization

/// A server on 127.0.0.1 with an ephemeral port and a few routes that make behaviour visible.
struct TestServer {
    let server: HTTPServer
    var port: Int { server.port }

    /// A latch a handler can wait on, so a test controls when a request finishes.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>], entered: Int)>(
            (false, [], 0))

        func wait() async {
            await withCheckedContinuation { continuation in
                let openAlready = state.withLock { state -> Bool in
                    state.entered += 1
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if openAlready { continuation.resume() }
            }
        }

        var entered: Int { state.withLock { $0.entered } }
        var isOpen: Bool { state.withLock { $0.open } }

        func open() {
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    static func start(
        gate: Gate = Gate(), configure: (inout HTTPServerConfiguration) -> Void = { _ in }
    ) throws -> TestServer {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configure(&configuration)
        var router = Router(defaultMaxBodyLength: 1024)
        router.add(.GET, "/hello") { _, _ in .text(.ok, "hello") }
        router.add(.GET, "/path") { request, _ in .text(.ok, request.head.target) }
        router.add(.POST, "/echo", maxBodyLength: 64 * 1024) { request, _ in
            HTTPResponse(status: .ok, body: request.body)
        }
        router.add(.GET, "/slow") { _, _ in
            await gate.wait()
            return .text(.ok, "slow done")
        }
        router.add(.GET, "/fail") { _, _ in throw TestFailure() }
        var logger = Logger(label: "test-http")
        logger.logLevel = .critical
        let server = try HTTPServer(configuration: configuration, router: router, logger: logger)
        try server.start()
        return TestServer(server: server)
    }

    struct TestFailure: Error {}

    func client(timeout: Int = 30) throws -> RawHTTPClient {
        try RawHTTPClient(port: port, timeout: timeout)
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(2))
    }
}
