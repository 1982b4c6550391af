import Glibc

/// Why a path a user typed was refused.
enum WorkspacePathError: Error, Equatable, CustomStringConvertible {
    case absolute
    case parentReference
    case notFound(String)
    case notADirectory(String)
    /// It exists, but following its symlinks leads outside the workspace.
    case escapes(String)

    var description: String {
        switch self {
        case .absolute: return "absolute paths are not allowed; give a path inside the workspace"
        case .parentReference: return "“..” is not allowed; paths stay inside the workspace"
        case .notFound(let path): return "there is no folder “\(path)”"
        case .notADirectory(let path): return "“\(path)” is a file, not a folder"
        case .escapes(let path): return "“\(path)” leads outside the workspace"
        }
    }
}

/// Paths users give (/cd, /ls, DEFAULT_PROJECT) are resolved here and nowhere else, so that
/// nothing a user types can point Claude outside the workspace root.
enum WorkspacePath {
    /// The real directory `input` names, relative to `current` (itself inside `root`).
    /// Refuses absolute paths and `..` outright rather than normalising them: a user who
    /// types them means something this bot will not do, and saying so is clearer.
    static func resolve(_ input: String, in root: String, from current: String) -> Result<String, WorkspacePathError> {
        let trimmed = input.trimmingWhitespace()
        if trimmed.hasPrefix("/") || trimmed.hasPrefix("~") { return .failure(.absolute) }
        let components = trimmed.split(separator: "/", omittingEmptySubsequences: true)
        if components.contains("..") { return .failure(.parentReference) }
        let joined = components.filter { $0 != "." }.joined(separator: "/")
        let candidate = joined.isEmpty ? current : current + "/" + joined
        guard let real = realPath(candidate) else { return .failure(.notFound(trimmed)) }
        guard contains(root: root, real) else { return .failure(.escapes(trimmed)) }
        guard isDirectory(real) else { return .failure(.notADirectory(trimmed)) }
        return .success(real)
    }

    /// A file or folder `input` names (for /diff path): the same refusals, but it need not be a folder.
    static func resolveFile(_ input: String, in root: String, from current: String) -> Result<String, WorkspacePathError> {
        let trimmed = input.trimmingWhitespace()
        if trimmed.hasPrefix("/") || trimmed.hasPrefix("~") { return .failure(.absolute) }
        let components = trimmed.split(separator: "/", omittingEmptySubsequences: true)
        if components.contains("..") { return .failure(.parentReference) }
        let candidate = current + "/" + components.filter { $0 != "." }.joined(separator: "/")
        guard let real = realPath(candidate) else { return .failure(.notFound(trimmed)) }
        guard contains(root: root, real) else { return .failure(.escapes(trimmed)) }
        return .success(real)
    }

    static func contains(root: String, _ path: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// `path` relative to the root, "." for the root itself.
    static func display(_ path: String, root: String) -> String {
        guard path != root, contains(root: root, path) else { return "." }
        return String(path.dropFirst(root.count + (root.hasSuffix("/") ? 0 : 1)))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Entries of a directory (not following into them), hidden ones left out, sorted.
    static func entries(of directory: String) -> [(name: String, isDirectory: Bool)] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var result: [(String, Bool)] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            result.append((name, isDirectory(directory + "/" + name)))
        }
        return result.sorted { $0.0.localizedStandardCompareFallback($1.0) }
    }
}

/// The workspace root: created when missing, then used by its real path.
enum WorkspaceRoot {
    struct PrepareError: Error, CustomStringConvertible {
        let description: String
    }

    static func prepare(_ setting: String, relativeTo currentDirectory: String) throws(PrepareError) -> String {
        let absolute = setting.hasPrefix("/") ? setting : currentDirectory + "/" + setting
        // Missing parents too: a fresh volume or DATA_DIR may not have them yet.
        var prefix = absolute.hasPrefix("/") ? "/" : ""
        for component in absolute.split(separator: "/") {
            prefix += component
            if !WorkspacePath.isDirectory(prefix) {
                guard mkdir(prefix, 0o755) == 0 || errno == EEXIST else {
                    throw PrepareError(description: "cannot create \(prefix): \(String(cString: strerror(errno)))")
                }
            }
            prefix += "/"
        }
        guard let real = WorkspacePath.realPath(absolute), WorkspacePath.isDirectory(real) else {
            throw PrepareError(description: "\(absolute) is not a folder")
        }
        return real
    }
}

extension String {
    /// Case-insensitive, digits-aware enough for folder listings without Foundation.
    func localizedStandardCompareFallback(_ other: String) -> Bool {
        let left = lowercased(), right = other.lowercased()
        return left == right ? self < other : left < right
    }
}
