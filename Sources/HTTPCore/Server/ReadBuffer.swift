/// Bytes received on a connection and not yet consumed by the parser.
/// One contiguous allocation that is compacted (unread bytes moved to the front)
/// instead of grown, so a connection holds at most `capacity` bytes of input.
final class ReadBuffer {
    private let storage: UnsafeMutableRawBufferPointer
    private var readIndex = 0
    private var writeIndex = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    var capacity: Int { storage.count }
    var unreadCount: Int { writeIndex - readIndex }
    var isEmpty: Bool { readIndex == writeIndex }
    var isFull: Bool { unreadCount == storage.count }

    /// The unread bytes; valid until the next mutation.
    var unread: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[readIndex..<writeIndex])
    }

    func consume(_ count: Int) {
        precondition(count <= unreadCount)
        readIndex += count
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
    }

    /// Space to receive into, compacting first when the tail is full.
    func writableSpace() -> UnsafeMutableRawBufferPointer {
        if writeIndex == storage.count && readIndex > 0 {
            let count = unreadCount
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + readIndex, byteCount: count)
            readIndex = 0
            writeIndex = count
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[writeIndex...])
    }

    func didWrite(_ count: Int) {
        writeIndex += count
    }
}
