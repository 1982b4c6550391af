import Dispatch
import FoundationEssentials
import Logging
import Synchronization
import Testing

@testable import BotServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let storageTestLogger = Logger(label: "storage-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `body` with a fresh directory that is removed afterwards, whatever happens.
func withStorageTestDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array("/tmp/botserver-storage-XXXXXX".utf8CString)
    guard mkdtemp(&template) != nil else { throw DatabaseError.cannotCreateDirectory(path: "/tmp", errno: errno) }
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

struct StorageWaitTimedOut: Error {}

/// Polls `condition` (every millisecond, up to 30 s): how tests wait for the writer to
/// reach a state without guessing a sleep.
func waitForStorage(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: .seconds(30))
    while !condition() {
        guard ContinuousClock.now < deadline else { throw StorageWaitTimedOut() }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// Occupies the writer's queue with one job, so that writes submitted meanwhile queue up
/// and are run together as the next batch once the gate opens.
final class WriterGate: Sendable {
    private let entered = Atomic<Bool>(false)
    private let gate = DispatchSemaphore(value: 0)

    func hold(_ writer: DatabaseWriter) async throws -> Task<Void, any Error> {
        let holder = Task {
            try await writer.write { _ in
                self.entered.store(true, ordering: .sequentiallyConsistent)
                self.gate.wait()
            }
        }
        try await waitForStorage { entered.load(ordering: .sequentiallyConsistent) }
        return holder
    }

    func open() { gate.signal() }
}

func inboxEntry(_ updateID: Int64, chat: Int64? = 42, thread: Int64? = nil, receivedAt: Int64 = 1_000) -> InboxEntry {
    InboxEntry(
        updateID: updateID, kind: "message",
        conversation: chat.map { ConversationKey(chatID: $0, threadID: thread) },
        payload: Array(#"{"update_id":\#(updateID)}"#.utf8), receivedAt: receivedAt)
}

extension Database {
    /// Reads one integer through the reader (schema checks, row counts).
    func scalar(_ sql: String) async throws -> Int {
        try await reader.read { try $0.prepare(sql).queryFirst { $0.int(0) } ?? -1 }
    }
}

func storageDirectoryMode(_ path: String) throws -> mode_t {
    var info = stat()
    guard stat(path, &info) == 0 else { throw DatabaseError.cannotCreateDirectory(path: path, errno: errno) }
    return info.st_mode & 0o777
}

/// A flush that the test holds and releases, and that can be told to fail.
final class HeldFlush: Sendable {
    private let started = Atomic<Int>(0)
    private let releases = DispatchSemaphore(value: 0)
    private let failNext = Atomic<Bool>(false)

    var flushesStarted: Int { started.load(ordering: .sequentiallyConsistent) }

    func flush() throws(DatabaseError) {
        started.add(1, ordering: .sequentiallyConsistent)
        releases.wait()
        if failNext.exchange(false, ordering: .sequentiallyConsistent) {
            throw .walSyncFailed(path: "test.sqlite-wal", errno: EIO)
        }
    }

    func release(failing: Bool = false) {
        failNext.store(failing, ordering: .sequentiallyConsistent)
        releases.signal()
    }
}


/// Whether a task has finished, without waiting for it.
final class Finished: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .sequentiallyConsistent) }
    func set() { flag.store(true, ordering: .sequentiallyConsistent) }
}

