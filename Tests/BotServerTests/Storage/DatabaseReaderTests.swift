import Dispatch
import Synchronization
import Testing

@testable import BotServer

@Suite struct DatabaseReaderTests {
    private enum ReadCaller {
        @TaskLocal static var name = "none"
    }

    /// A conversation's settings are read on its first prompt's own thread when the reader is
    /// idle; other reads, and reads while it is busy, go to its queue (which runs outside any
    /// task, so the task-local value shows where the work ran).
    @Test func anInlineReadRunsInTheCallersTaskOnlyWhenTheReaderIsIdle() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let reader = database.reader
            let inline = try await ReadCaller.$name.withValue("prompt") {
                try await reader.read(inlineWhenIdle: true) { _ in ReadCaller.name }
            }
            #expect(inline == "prompt")
            let queued = try await ReadCaller.$name.withValue("prompt") { try await reader.read { _ in ReadCaller.name } }
            #expect(queued == "none")

            // Busy: a read holds the connection until released; an inline read meanwhile queues.
            let gate = DispatchGate()
            let holding = Task { try await reader.read { _ in gate.wait() } }
            try await waitForStorage { gate.waiting }
            // Task.immediate runs up to its first suspension before it returns: read() has placed
            // the read (queued behind the held one) by then, so the gate may open at once.
            let behind = Task.immediate {
                try await ReadCaller.$name.withValue("prompt") { try await reader.read(inlineWhenIdle: true) { _ in ReadCaller.name } }
            }
            gate.open()
            try await holding.value
            #expect(try await behind.value == "none")

            await database.close()
            await #expect(throws: DatabaseError.closed) { try await reader.read(inlineWhenIdle: true) { _ in 1 } }
            await database.close()  // a second close returns
        }
    }
}

/// Blocks a read (on its thread) until opened.
private final class DispatchGate: Sendable {
    private let entered = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)
    var waiting: Bool { entered.load(ordering: .sequentiallyConsistent) }
    func wait() {
        entered.store(true, ordering: .sequentiallyConsistent)
        semaphore.wait()
    }
    func open() { semaphore.signal() }
}
