import Glibc

/// Opens a non-blocking TCP connection registered with the event loop.
enum TCPConnector {
    struct ResolvedAddress: @unchecked Sendable {
        var family: Int32
        var storage: sockaddr_storage
        var length: socklen_t
    }

    /// Tries each address of `host` in the resolver's order until one connects.
    static func connect(host: String, port: Int, loop: EventLoop, timeout: Duration) async throws(HTTPClientError)
        -> ConnectionSocket
    {
        let addresses = try await resolve(host: host, port: port)
        var lastReason = "no address"
        for address in addresses {
            switch await connect(to: address, loop: loop, deadline: MonotonicClock.deadline(after: timeout)) {
            case .success(let socket): return socket
            case .failure(.timedOut): lastReason = "timed out after \(timeout)"
            case .failure(let error): lastReason = error.description
            }
        }
        throw .connectFailed(origin: "\(host):\(port)", reason: lastReason)
    }

    /// IP literals resolve at once. A name may need a DNS query, during which getaddrinfo blocks,
    /// so it runs on a thread of its own: never on Swift's cooperative pool (one thread per core),
    /// nor on Dispatch's global pool, which is about as narrow and may be busy with blocking work.
    private static func resolve(host: String, port: Int) async throws(HTTPClientError) -> [ResolvedAddress] {
        if case .success(let addresses) = resolveBlocking(host: host, port: port, numericOnly: true) {
            return addresses
        }
        let result: Result<[ResolvedAddress], HTTPClientError> = await withCheckedContinuation { continuation in
            DedicatedThread.run {
                continuation.resume(returning: resolveBlocking(host: host, port: port, numericOnly: false))
            }
        }
        return try result.get()
    }

    private static func resolveBlocking(host: String, port: Int, numericOnly: Bool)
        -> Result<[ResolvedAddress], HTTPClientError>
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV | (numericOnly ? AI_NUMERICHOST : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure(.nameResolution(host: host, reason: String(cString: gai_strerror(status))))
        }
        defer { freeaddrinfo(first) }
        var addresses: [ResolvedAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var storage = sockaddr_storage()
            let length = current.pointee.ai_addrlen
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: current.pointee.ai_addr, count: Int(length)))
            }
            addresses.append(ResolvedAddress(family: current.pointee.ai_family, storage: storage, length: length))
            entry = current.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(.nameResolution(host: host, reason: "no addresses")) : .success(addresses)
    }

    private static func connect(to address: ResolvedAddress, loop: EventLoop, deadline: UInt64) async
        -> Result<ConnectionSocket, SocketError>
    {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.system(call: "socket", errno: errno)) }
        var storage = address.storage
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
        if status != 0 && errno != EINPROGRESS {
            let code = errno
            close(fd)
            return .failure(.system(call: "connect", errno: code))
        }
        let handle: EventLoop.Handle
        do {
            handle = try loop.register(fd)
        } catch {
            close(fd)
            return .failure(error)
        }
        let socket = ConnectionSocket(handle: handle, loop: loop)
        if status != 0 {
            do {
                try await loop.wait(handle, for: .write, deadline: deadline)
            } catch {
                socket.closeAndDeregister()
                return .failure(error)
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
            if socketError != 0 {
                socket.closeAndDeregister()
                return .failure(.system(call: "connect", errno: socketError))
            }
        }
        socket.setNoDelay()
        return .success(socket)
    }
}

extension ConnectionSocket {
    func closeAndDeregister() {
        loop.deregister(handle)
        close(fd)
    }
}
