/// Which repository addresses /clone accepts: https://, ssh:// and scp-style user@host:path
/// (and http:// to this machine only).
/// Everything else is refused before git sees it: file://, ext:: and other transports
/// (ext:: runs a command), local paths, and anything that starts like an option.
enum GitURL {
    static func validate(_ text: String) -> Result<String, GitError> {
        let url = text.trimmingWhitespace()
        func refuse(_ why: String) -> Result<String, GitError> {
            .failure(GitError(kind: .refused, summary: why, output: ""))
        }
        guard !url.isEmpty else { return refuse("Give the repository's URL: /clone https://host/owner/repo.git") }
        guard !url.hasPrefix("-") else { return refuse("That looks like an option, not a URL") }
        guard !url.contains(where: { $0.isWhitespace || $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true }) else {
            return refuse("A URL has no spaces or control characters")
        }
        guard !url.contains("::") else { return refuse("Only https:// and ssh:// remotes are allowed") }
        let lowered = url.lowercased()
        if lowered.hasPrefix("https://") || lowered.hasPrefix("ssh://") {
            let rest = url.drop { $0 != "/" }.dropFirst(2)
            let host = rest.prefix { $0 != "/" && $0 != ":" }.split(separator: "@").last.map(String.init) ?? ""
            guard !host.isEmpty, !host.hasPrefix("-") else { return refuse("The URL has no host") }
            return .success(url)
        }
        if lowered.hasPrefix("http://") {
            // Plain HTTP only to this machine (a local git server); anywhere else it is readable on the way.
            let host = url.dropFirst(7).prefix { $0 != "/" && $0 != ":" }.split(separator: "@").last.map(String.init) ?? ""
            guard host == "localhost" || host.hasPrefix("127.") || host == "[::1]" else {
                return refuse("Plain http:// is only allowed to this machine; use https://")
            }
            return .success(url)
        }
        if lowered.contains("://") { return refuse("Only https:// and ssh:// remotes are allowed") }
        // scp style: user@host:path (a colon before any slash, and a user part).
        if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/"), url[..<colon].contains("@") {
            let host = url[..<colon].split(separator: "@").last ?? ""
            guard !host.isEmpty, !host.hasPrefix("-"), url.index(after: colon) < url.endIndex else { return refuse("The URL has no host or path") }
            return .success(url)
        }
        return refuse("Only https:// and ssh:// remotes are allowed, not local paths")
    }

    /// A folder name for the clone: the repository's last path part without ".git".
    static func defaultName(_ url: String) -> String {
        let last = url.split(whereSeparator: { $0 == "/" || $0 == ":" }).last.map(String.init) ?? "repo"
        let name = last.hasSuffix(".git") ? String(last.dropLast(4)) : last
        return name.isEmpty ? "repo" : name
    }

    /// Folder names /clone and /init create: one plain path component.
    static func isValidFolderName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && name != "." && name != ".." && !name.hasPrefix("-") && !name.hasPrefix(".")
            && name.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) }
    }
}
