import Glibc
import Synchronization
import Testing

@testable import BotServer

/// Records the thread each update was handled on.
private final class ThreadRecordingHandler: ConversationHandler {
    let threads = Mutex<[Int64: pthread_t]>([:])
    func handle(_ update: InboxRecord, attempt: Int) async throws {
        let thread = pthread_self()
        threads.withLock { $0[update.updateID] = thread }
    }
}

@Suite struct DispatcherTests {
    /// An idle conversation's update is handled on the thread that submitted it (on the
    /// webhook: the one that committed its row) until the handler first waits: no task has to
    /// be scheduled before a prompt is on its way to Claude.
    @Test func anIdleConversationsUpdateReachesItsHandlerBeforeSubmitReturns() async throws {
        try await withStorageTestDirectory { directory in
            let database = try Database.open(directory: directory, logger: storageTestLogger)
            let store = InboxStore(database: database)
            let handler = ThreadRecordingHandler()
            let dispatcher = Dispatcher(store: store, handler: handler, logger: storageTestLogger)
            let entry = inboxEntry(7)
            #expect(try await store.store(entry))
            let submitter = pthread_self()
            dispatcher.submit(InboxRecord(pending: entry, attemptRecorded: true))
            // Handled already, and here: a task scheduled instead would run on another thread,
            // or on this one only once this code has stopped running.
            let handledOn = handler.threads.withLock { $0[7] }
            #expect(handledOn.map { pthread_equal($0, submitter) != 0 } == true)
            try await waitForStorage { dispatcher.activeConversations == 0 }
            #expect(try await store.pending().isEmpty, "marked handled afterwards")

            // A second update while the conversation is busy waits its turn in the lane.
            let stuck = RecordingHandler(stuckChats: [42])
            let busy = Dispatcher(store: store, handler: stuck, logger: storageTestLogger)
            for id in [8, 9] as [Int64] {
                let next = inboxEntry(id)
                #expect(try await store.store(next))
                busy.submit(InboxRecord(pending: next, attemptRecorded: true))
            }
            #expect(stuck.deliveries.map(\.updateID) == [8])
            stuck.release()
            try await waitForStorage { stuck.deliveries.count == 2 && busy.activeConversations == 0 }
            #expect(stuck.deliveries.map(\.updateID) == [8, 9])
            await database.close()
        }
    }
}
