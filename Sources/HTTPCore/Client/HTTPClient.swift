import Glibc
import Synchronization

/// An HTTP/1.1 client over the same event loop and codec as the server: keep-alive
/// connections pooled per origin, plain TCP or TLS (OpenSSL: SNI, chain and host name
/// verified), bounded responses, and a timeout on every step.
///
/// A request that fails on a reused connection before any byte of the response arrived
/// is sent once more on a new connection: the server closed the idle connection under us
/// and cannot have acted on the request. No other failure is retried here; callers decide.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let loop: EventLoop
    /// Made on the first https connection: OpenSSL parses the whole system CA bundle when
    /// it loads the trust store (~70-100 ms here), which start-up should not pay.
    private let tls = Mutex<TLSContext?>(nil)
    private let pool: ConnectionPool

    public init(configuration: HTTPClientConfiguration = .init()) throws(HTTPClientError) {
        self.configuration = configuration
        // A CA file that cannot be read is a configuration error now, not on the first request.
        if let file = configuration.trustedCAFile, access(file, R_OK) != 0 {
            throw .fileError(path: file, reason: String(cString: strerror(errno)))
        }
        do {
            loop = try EventLoop()
        } catch {
            throw .connectFailed(origin: "-", reason: "cannot start the event loop: \(error)")
        }
        pool = ConnectionPool(maxPerOrigin: configuration.maxConnectionsPerOrigin)
        loop.start()
    }

    deinit { loop.stop() }

    /// Sends the request and returns the response with its body in memory.
    public func execute(_ request: HTTPClientRequest, responseTimeout: Duration? = nil) async throws(HTTPClientError)
        -> HTTPClientResponse
    {
        var body: [UInt8] = []
        let head = try await perform(
            request, responseTimeout: responseTimeout, maxBodyLength: configuration.maxResponseBodyLength
        ) { _, slice throws(HTTPClientError) in
            body += slice
        }
        return HTTPClientResponse(head: head, body: body)
    }

    /// A response whose 2xx body was written to a file.
    public struct Download: Sendable {
        public var head: HTTPClientResponseHead
        /// Bytes written to the file; 0 and no file when the status was not 2xx.
        public var byteCount: Int
        /// The body of a non-2xx response (at most 64 KiB), to explain the failure.
        public var errorBody: [UInt8]
    }

    /// Streams a 2xx response body into `path` (via `path.partial`, renamed when complete, so a
    /// failed download never leaves a truncated file under the real name). At most `maxLength` bytes.
    /// `permissions`: the new file's mode, before the process's umask (owner-only unless the
    /// caller shares the file).
    public func download(_ request: HTTPClientRequest, to path: String, maxLength: Int, permissions: mode_t = 0o600)
        async throws(HTTPClientError) -> Download
    {
        let partial = path + ".partial"
        let file = DownloadFile(path: partial, permissions: permissions)
        defer { file.closeAndRemoveIfUnfinished() }
        var errorBody: [UInt8] = []
        var written = 0
        let head = try await perform(request, responseTimeout: nil, maxBodyLength: maxLength) {
            head, slice throws(HTTPClientError) in
            if (200..<300).contains(head.status) {
                try file.write(slice)
                written += slice.count
            } else if errorBody.count < 64 * 1024 {
                errorBody += slice.prefix(64 * 1024 - errorBody.count)
            }
        }
        guard (200..<300).contains(head.status) else { return Download(head: head, byteCount: 0, errorBody: errorBody) }
        try file.finish(renamingTo: path)
        return Download(head: head, byteCount: written, errorBody: [])
    }

    /// Closes idle connections and stops the event loop; later requests fail with `.shutDown`.
    public func shutdown() {
        pool.shutdown()
        loop.stop()
    }

    /// Connections open to the origin of `url`, idle or in use.
    public func openConnections(to url: HTTPClientURL) -> Int { pool.openConnections(to: url.origin) }

    private func tlsContext() throws(HTTPClientError) -> TLSContext {
        try tls.withLock { (context: inout TLSContext?) throws(HTTPClientError) -> TLSContext in
            if let context { return context }
            do throws(TLSContext.SetupError) {
                let made = try TLSContext.client(trustedCAFile: configuration.trustedCAFile)
                context = made
                return made
            } catch {
                throw .tlsFailed(origin: "-", reason: error.description)
            }
        }
    }

    private func perform(
        _ request: HTTPClientRequest, responseTimeout: Duration?, maxBodyLength: Int,
        sink: (HTTPClientResponseHead, [UInt8]) throws(HTTPClientError) -> Void
    ) async throws(HTTPClientError) -> HTTPClientResponseHead {
        let origin = request.url.origin
        let timeout = responseTimeout ?? configuration.responseTimeout
        while true {
            if Task.isCancelled { throw .cancelled }
            let connection: HTTPClientConnection
            switch try await pool.acquire(origin) {
            case .reuse(let idle):
                connection = idle
            case .open:
                do {
                    connection = try await HTTPClientConnection.open(
                        origin: origin, loop: loop, tls: origin.scheme == .https ? try tlsContext() : nil,
                        configuration: configuration)
                } catch {
                    pool.openFailed(origin)
                    throw error
                }
            }
            let outcome = await withTaskCancellationHandler {
                do throws(HTTPClientConnection.Failure) {
                    return Result<(HTTPClientResponseHead, Bool), HTTPClientConnection.Failure>.success(
                        try await connection.exchange(
                            request, responseTimeout: timeout, maxBodyLength: maxBodyLength, sink: sink))
                } catch {
                    return .failure(error)
                }
            } onCancel: {
                connection.cancel()
            }
            switch outcome {
            case .success(let (head, reusable)):
                pool.release(connection, reusable: reusable && !Task.isCancelled)
                return head
            case .failure(let failure):
                pool.release(connection, reusable: false)
                if Task.isCancelled { throw .cancelled }
                if case .stale = failure { continue }
                throw failure.error
            }
        }
    }
}

/// The file a download is streamed into.
private final class DownloadFile {
    private let path: String
    private let permissions: mode_t
    private var fd: Int32 = -1
    private var finished = false

    init(path: String, permissions: mode_t) {
        self.path = path
        self.permissions = permissions
    }

    /// Opened on the first slice, so a failed request creates no file.
    func write(_ bytes: [UInt8]) throws(HTTPClientError) {
        if fd < 0 {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
            guard fd >= 0 else { throw .fileError(path: path, reason: String(cString: strerror(errno))) }
        }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .fileError(path: path, reason: String(cString: strerror(errno)))
            }
            offset += count
        }
    }

    func finish(renamingTo finalPath: String) throws(HTTPClientError) {
        if fd < 0 { try write([]) }  // an empty body still makes an (empty) file
        let synced = fsync(fd) == 0
        let closed = close(fd) == 0
        fd = -1  // closed either way: a failed close must not be retried by the cleanup
        guard synced, closed else { throw .fileError(path: path, reason: String(cString: strerror(errno))) }
        guard rename(path, finalPath) == 0 else { throw .fileError(path: finalPath, reason: String(cString: strerror(errno))) }
        finished = true
    }

    func closeAndRemoveIfUnfinished() {
        if fd >= 0 { close(fd) }
        if !finished { unlink(path) }
    }
}
