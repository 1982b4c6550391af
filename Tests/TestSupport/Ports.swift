import Glibc

/// Asks the kernel for a free port on 127.0.0.1 (for servers started as separate processes,
/// which cannot report an ephemeral port back to the test).
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = bind(fd, $0, length)
            _ = getsockname(fd, $0, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Polls `GET path` until it answers `status`, or gives up after about `attempts` × `interval`.
public func waitForHTTP(
    port: Int, path: String, status: Int = 200, attempts: Int = 500, interval: Duration = .milliseconds(20)
) async -> Bool {
    for _ in 0..<attempts {
        if let response = try? await RawHTTPClient.request(port: port, path: path), response.status == status {
            return true
        }
        try? await Task.sleep(for: interval)
    }
    return false
}
