import Foundation
import Glibc
import Synchronization
import SystemPackage
import TestSupport
import Testing

@testable import ClaudeRunner

/// The CLI's stdin pipe, read here by the test in the child's place.
@Suite struct StdinPipeTests {
    /// Instants `written` reported, in the order it reported them.
    final class Reports: Sendable {
        private let lines = Mutex<[String]>([])
        func callback(_ name: String) -> @Sendable (ContinuousClock.Instant) -> Void {
            { _ in self.lines.withLock { $0.append(name) } }
        }
        var names: [String] { lines.withLock { $0 } }
    }

    /// Everything until end of input, read on a thread of its own.
    private func readAll(_ descriptor: FileDescriptor) async throws -> [UInt8] {
        try await offCooperativePool {
            var all: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                if count == 0 { return all }
                all += buffer[0..<count]
            }
        }
    }

    @Test func aLineIsInThePipeWhenWriteReturnsEvenBeforeAnyoneReads() throws {
        let pipe = try StdinPipe()
        let reports = Reports()
        pipe.write(Array("{\"a\":1}\n".utf8), written: reports.callback("a"))
        // Reported synchronously: no task had to run.
        #expect(reports.names == ["a"])
        let reader = try #require(pipe.takeReadEnd())
        defer { try? reader.close() }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        #expect(Array(buffer[0..<count]) == Array("{\"a\":1}\n".utf8))
    }

    @Test func bothEndsCloseOnExec() throws {
        let pipe = try StdinPipe()
        let reader = try #require(pipe.takeReadEnd())
        defer { try? reader.close() }
        #expect(fcntl(reader.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        #expect(pipe.takeReadEnd() == nil, "the read end is handed out once")
    }

    @Test func aLineLargerThanThePipeWaitsAndLaterLinesKeepTheirOrder() async throws {
        let pipe = try StdinPipe()
        let reports = Reports()
        // Several times the 64 KiB a Linux pipe holds, like a prompt with a photo.
        let big = Array(repeating: UInt8(ascii: "x"), count: 1 << 20) + [UInt8(ascii: "\n")]
        pipe.write(big, written: reports.callback("big"))
        pipe.write(Array("small\n".utf8), written: reports.callback("small"))
        #expect(reports.names.isEmpty, "neither is in the pipe before anyone reads")
        pipe.closeWhenDrained()
        #expect(!pipe.isClosed, "closing waits for the backlog")
        let reader = try #require(pipe.takeReadEnd())
        defer { try? reader.close() }
        let received = try await readAll(reader)
        #expect(received == big + Array("small\n".utf8))
        #expect(reports.names == ["big", "small"])
        #expect(pipe.isClosed)
    }

    @Test func closingWithNothingQueuedIsEndOfInputAtOnce() async throws {
        let pipe = try StdinPipe()
        pipe.write(Array("last\n".utf8), written: nil)
        pipe.closeWhenDrained()
        #expect(pipe.isClosed)
        let reports = Reports()
        pipe.write(Array("too late\n".utf8), written: reports.callback("late"))
        #expect(reports.names.isEmpty)
        let reader = try #require(pipe.takeReadEnd())
        defer { try? reader.close() }
        #expect(try await readAll(reader) == Array("last\n".utf8))
    }

    @Test func anAbandonedBacklogIsDroppedAndNeverReported() async throws {
        let pipe = try StdinPipe()
        let reports = Reports()
        pipe.write(Array(repeating: UInt8(ascii: "y"), count: 1 << 18), written: reports.callback("big"))
        pipe.abandon()
        let reader = try #require(pipe.takeReadEnd())
        defer { try? reader.close() }
        // What fitted is there; the rest never comes, and the write end is closed (end of input).
        let received = try await readAll(reader)
        #expect(received.count < 1 << 18)
        #expect(reports.names.isEmpty)
        #expect(pipe.isClosed)
    }

    @Test func writingToAPipeWhoseReaderIsGoneClosesItQuietly() throws {
        DescendantSweeper.prepareHost(subreaper: false)  // SIGPIPE ignored, as for every CLI
        let pipe = try StdinPipe()
        let reader = try #require(pipe.takeReadEnd())
        try reader.close()
        let reports = Reports()
        pipe.write(Array("nobody reads this\n".utf8), written: reports.callback("lost"))
        #expect(reports.names.isEmpty)
        #expect(pipe.isClosed)
    }
}
