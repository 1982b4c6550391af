import Glibc

enum FileSize {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The size of the regular file at `path`, for a Content-Length announced before sending it.
    static func of(_ path: String) throws(Failure) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure(description: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw Failure(description: "not a regular file") }
        return Int(info.st_size)
    }
}

extension FileSize {
    /// "512 KB", "3.4 MB": how a phone user reads a size.
    static func describe(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) bytes" }
        if bytes < 1024 * 1024 { return "\(bytes / 1024) KB" }
        let tenths = bytes * 10 / (1024 * 1024)
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}
