import Foundation
import Glibc

/// The unprivileged accounts scripts/create-test-users.sh makes (as root) for the isolation
/// tests: one the bot runs as, one Claude runs as. Switching users needs root, which CI has;
/// elsewhere those tests skip and say why.
public enum TestAccounts {
    public struct Account: Sendable {
        public let name: String
        public let uid: uid_t
        public let gid: gid_t
    }

    public static let skipReason = "switching users needs root and the accounts of scripts/create-test-users.sh (CI runs as root)"

    public static var available: Bool { getuid() == 0 && bot != nil && claude != nil }

    public static let bot = account("botserver-bot-test")
    public static let claude = account("botserver-claude-test")

    private static func account(_ name: String) -> Account? {
        guard let entry = getpwnam(name) else { return nil }
        return Account(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// chown -R (symlinks themselves, never what they point at).
    public static func give(_ path: String, to uid: uid_t, _ gid: gid_t) {
        lchown(path, uid, gid)
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return }
        for case let relative as String in enumerator { lchown(path + "/" + relative, uid, gid) }
    }

    /// What a shared workspace looks like when both users work with umask 0002: every
    /// folder below `path` (and it) group-writable and setgid, every file group-writable.
    public static func share(_ path: String) {
        let entries = [path] + (FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String }.map { path + "/" + $0 } ?? [])
        for entry in entries {
            var info = stat()
            guard lstat(entry, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: chmod(entry, (info.st_mode & 0o7777) | S_ISGID | 0o070)
            case S_IFREG: chmod(entry, (info.st_mode & 0o7777) | 0o060)
            default: continue
            }
        }
    }
}
