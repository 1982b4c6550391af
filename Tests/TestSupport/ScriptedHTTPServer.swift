import CLinux
import Foundation
import Synchronization

/// A deliberately dumb HTTP server for client tests: for each request it reads (head, then a
/// Content-Length body) it plays the next scripted action, byte for byte — chunked bodies,
/// malformed heads, closing without an answer, or never answering. Blocking sockets on
/// threads of its own: never Swift's cooperative pool, nor Dispatch's narrow global pool.
public final class ScriptedHTTPServer: Sendable {
    public enum Action: Sendable {
        /// Writes these bytes; closes the connection afterwards when `close` is set.
        case respond(String, close: Bool = false)
        /// Closes the connection without answering (what a server closing an idle connection does).
        case closeWithoutAnswer
        /// Reads the request and never answers; the connection stays open until `stop()`.
        case hang
    }

    private struct State {
        var script: [Action] = []
        var requests: [String] = []
        var connections = 0
        var openDescriptors: [Int32] = []
        var stopped = false
    }

    public let port: Int
    private let listener: Int32
    private let state = Mutex(State())

    /// Actions are used in order; once the script runs out, every request gets a plain 200 "ok".
    public init(script: [Action] = []) throws {
        // Close-on-exec: a process the tests spawn must not hold our connections open.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 64) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else {
            close(listener)
            throw RawHTTPClient.ClientError(description: "scripted server: bind failed")
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        state.withLock { $0.script = script }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    public func enqueue(_ actions: Action...) { state.withLock { $0.script += actions } }

    /// Request heads received so far, in order.
    public var requests: [String] { state.withLock { $0.requests } }
    public var connectionCount: Int { state.withLock { $0.connections } }

    public func stop() {
        // Under the lock: a serve thread removes its descriptor under it before closing, so
        // a descriptor found here is still open and cannot be a reused number.
        state.withLock { state in
            state.stopped = true
            for fd in state.openDescriptors { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let fd = accept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            guard fd >= 0 else { return }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections += 1
                state.openDescriptors.append(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            Thread.detachNewThread { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { $0.openDescriptors.removeAll { $0 == fd } }
            close(fd)
        }
        var pending: [UInt8] = []
        while let request = readRequest(fd, &pending) {
            let action = state.withLock { state -> Action in
                state.requests.append(request)
                return state.script.isEmpty ? .respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") : state.script.removeFirst()
            }
            switch action {
            case .respond(let text, let closeAfter):
                let bytes = Array(text.utf8)
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if closeAfter { return }
            case .closeWithoutAnswer:
                return
            case .hang:
                var byte: UInt8 = 0
                _ = recv(fd, &byte, 1, 0)  // until the client leaves or stop() shuts the socket down
                return
            }
        }
    }

    /// The next request's head (its body, by Content-Length, is read and dropped), or nil at EOF.
    private func readRequest(_ fd: Int32, _ pending: inout [UInt8]) -> String? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = RawHTTPClient.find(terminator, in: pending) {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                var bodyLength = 0
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    bodyLength = Int(line.dropFirst("content-length:".count).trimmingPrefix(" ")) ?? 0
                }
                while pending.count < end + 4 + bodyLength {
                    let count = recv(fd, &buffer, buffer.count, 0)
                    guard count > 0 else { return nil }
                    pending += buffer[0..<count]
                }
                pending.removeFirst(end + 4 + bodyLength)
                return head
            }
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            pending += buffer[0..<count]
        }
    }
}
