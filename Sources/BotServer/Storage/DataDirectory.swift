#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

enum DataDirectory {
    /// Creates `path` and any missing parents, owner-only (0700): the database holds users'
    /// messages. An existing directory keeps the permissions the operator gave it.
    static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0 {
                let code = errno
                var info = stat()
                guard code == EEXIST, stat(prefix, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw DatabaseError.cannotCreateDirectory(path: prefix, errno: code)
                }
            }
            prefix += "/"
        }
    }
}
