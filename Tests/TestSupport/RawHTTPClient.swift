import Dispatch
import Glibc

/// A deliberately dumb TCP client for server tests: it sends exactly the bytes it is
/// given (malformed, pipelined, trickled) and reads raw responses.
///
/// Its blocking socket calls run on a Dispatch queue, never on Swift's cooperative
/// pool: that pool has one thread per core, and a test blocked in recv() there could
/// starve the very server it is waiting for.
public final class RawHTTPClient: @unchecked Sendable {
    public struct Response: Equatable, Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.status == rhs.status && lhs.body == rhs.body
                && lhs.headers.map { "\($0.name):\($0.value)" } == rhs.headers.map { "\($0.name):\($0.value)" }
        }

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
    }

    private let fd: Int32
    private let queue = DispatchQueue(label: "raw-http-client")
    /// Bytes received but not yet returned as a response (guarded by `queue`).
    private var received: [UInt8] = []

    /// Connects to 127.0.0.1:port. Reads time out after `timeout` seconds so a broken test fails instead of hanging.
    public init(port: Int, timeout: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket failed") }
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        // No close here: every stored property is set, so deinit runs when init throws and
        // closes fd. Closing it here too closed it twice: under parallel tests the number had
        // often been reused by then, and another test's socket was closed under it.
        guard result == 0 else { throw ClientError(description: "connect failed: errno \(errno)") }
    }

    deinit { close(fd) }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    public func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) async throws {
        try await onQueue { [fd] in
            var offset = 0
            while offset < bytes.count {
                let sent = bytes.withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                }
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { throw ClientError(description: "send failed: errno \(errno)") }
                offset += sent
            }
        }
    }

    /// Sends the bytes one at a time with a pause between them (a slow client).
    public func trickle(_ text: String, pause: Duration) async throws {
        for byte in Array(text.utf8) {
            try await send([byte])
            try await Task.sleep(for: pause)
        }
    }

    /// Reads one complete response (Content-Length framed; the server never sends chunked).
    /// `headRequest` means the response has no body whatever Content-Length says.
    public func readResponse(headRequest: Bool = false) async throws -> Response {
        try await onQueue { try self.readResponseBlocking(headRequest: headRequest) }
    }

    /// True when the server closed the connection (recv returns 0 or ECONNRESET) before the timeout.
    public func readUntilClosed() async throws -> [UInt8] {
        try await onQueue {
            var all = self.received
            self.received = []
            while true {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, 4096, 0) }
                if count == 0 || (count < 0 && errno == ECONNRESET) { return all }
                if count < 0 && errno == EINTR { continue }  // a signal (or a debugger) interrupted the wait
                guard count > 0 else { throw ClientError(description: "timed out waiting for close (errno \(errno))") }
                all += chunk[0..<count]
            }
        }
    }

    public func closeWrite() { shutdown(fd, Int32(SHUT_WR)) }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        var count = 0
        repeat {
            // A socket with SO_RCVTIMEO is not restarted after a signal handler (signal(7)).
            count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 16384, 0) }
        } while count < 0 && errno == EINTR
        if count == 0 { throw ClientError(description: "connection closed by server") }
        guard count > 0 else { throw ClientError(description: "recv failed or timed out: errno \(errno)") }
        received += chunk[0..<count]
    }

    private func readResponseBlocking(headRequest: Bool) throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let index = Self.find(separator, in: received) { headEnd = index } else { try fill() }
        }
        let headText = String(decoding: received[0..<headEnd!], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw ClientError(description: "bad status line: \(headText)")
        }
        let headers = lines.map { line -> (name: String, value: String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " "))
        }
        received.removeFirst(headEnd! + 4)
        let length =
            headRequest || status == 100
            ? 0 : Int(headers.first { $0.name.lowercased() == "content-length" }?.value ?? "0") ?? 0
        while received.count < length { try fill() }
        let body = Array(received[0..<length])
        received.removeFirst(length)
        return Response(status: status, headers: headers, body: body)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

extension String {
    fileprivate func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }

    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}

extension RawHTTPClient {
    /// One request on a fresh connection: the common case in endpoint tests.
    public static func request(
        port: Int, method: String = "GET", path: String, headers: [String: String] = [:], body: [UInt8] = []
    ) async throws -> Response {
        let client = try RawHTTPClient(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if method == "POST" || !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        try await client.send(Array((head + "\r\n").utf8) + body)
        return try await client.readResponse(headRequest: method == "HEAD")
    }
}
