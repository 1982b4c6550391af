import Foundation
import Glibc

/// Runs blocking work (starting a process and reading its first line, waiting for openssl)
/// on a thread of its own. Swift's cooperative pool has one thread per core, two here: a
/// test that blocks one stalls every other test in the process, and under load those
/// stalls reached the 10-second timeouts of unrelated tests.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Runs seconds of CPU work (a property check over hundreds of inputs) on a thread of its own
/// at the lowest priority (nice 19; for `who` 0 Linux changes only the calling thread). At the start of a full
/// run such checks competed with every time-bounded test for two cores; now they take only
/// the CPU nothing else wants, and finish a little later.
public func cpuHeavy<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await offCooperativePool {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        return try work()
    }
}
