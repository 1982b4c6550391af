import Foundation

/// Runs blocking work (starting a process and reading its first line, waiting for openssl)
/// on a thread of its own. Swift's cooperative pool has one thread per core, two here: a
/// test that blocks one stalls every other test in the process, and under load those
/// stalls reached the 10-second timeouts of unrelated tests.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
