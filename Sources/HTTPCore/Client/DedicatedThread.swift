import Glibc

/// Runs a blocking call on a short-lived thread of its own, so that it can hold up neither
/// Swift's cooperative pool nor Dispatch's global queues.
enum DedicatedThread {
    private final class Work {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func run(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Work(body))
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
                work.body()
                return nil
            }, box.toOpaque())
        guard result == 0 else {
            // No thread to be had (resource limits): block here rather than never answer.
            box.takeRetainedValue().body()
            return
        }
        pthread_detach(thread)
    }
}
