import HTTPCore
import ServiceLifecycle
import Synchronization

/// Set once shutdown begins, so /readyz turns 503 before connections close.
final class ShutdownFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// The HTTP server as a ServiceLifecycle service: bound before the group starts (so a
/// bind failure stops start-up with a clear message), accepting only once the group runs
/// — the group traps SIGTERM/SIGINT before it starts services, so a signal that arrives
/// as soon as /readyz answers still means a graceful shutdown — and shut down gracefully
/// when the group is told to stop.
struct HTTPService: Service {
    let server: HTTPServer
    let gracePeriod: Duration
    let shutdownFlag: ShutdownFlag

    func run() async throws {
        try server.start()
        try? await gracefulShutdown()
        shutdownFlag.set()
        await server.shutdown(gracePeriod: gracePeriod)
    }
}

/// Lets conversations finish the update in hand after intake has stopped.
/// Then stops what the conversations started (Claude processes and their tools).
struct DispatcherService: Service {
    let dispatcher: Dispatcher
    let gracePeriod: Duration
    /// Given the instant the grace period ends.
    var afterDrain: @Sendable (ContinuousClock.Instant) async -> Void = { _ in }

    func run() async throws {
        try? await gracefulShutdown()
        let deadline = ContinuousClock.now + gracePeriod
        await dispatcher.drain(gracePeriod: gracePeriod)
        await afterDrain(deadline)
    }
}
