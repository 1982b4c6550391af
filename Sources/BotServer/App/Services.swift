import HTTPCore
import ServiceLifecycle
import Synchronization

/// Set once shutdown begins, so /readyz turns 503 before connections close.
final class ShutdownFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// The HTTP server as a ServiceLifecycle service: already listening when the group
/// starts (so a bind failure stops start-up with a clear message), shut down
/// gracefully when the group is told to stop.
struct HTTPService: Service {
    let server: HTTPServer
    let gracePeriod: Duration
    let shutdownFlag: ShutdownFlag

    func run() async throws {
        try? await gracefulShutdown()
        shutdownFlag.set()
        await server.shutdown(gracePeriod: gracePeriod)
    }
}

/// Lets conversations finish the update in hand after intake has stopped.
struct DispatcherService: Service {
    let dispatcher: Dispatcher
    let gracePeriod: Duration

    func run() async throws {
        try? await gracefulShutdown()
        await dispatcher.drain(gracePeriod: gracePeriod)
    }
}
