import Glibc

/// The owners and modes the bot's folders need, checked before anything is opened: a volume
/// bind-mounted with the wrong owner stops start-up with one line that names the folder, the
/// owner it needs and the command that fixes it, instead of failing later in a chat.
enum DirectoryOwnership {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// DATA_DIR holds the database (every chat's prompts) and nothing else may read it: owned
    /// by the bot and 0700. A looser mode on a folder the bot owns is tightened.
    static func checkDataDirectory(_ path: String) throws(Problem) -> Bool {
        guard let info = status(path) else { return false }
        let uid = geteuid()
        guard uid == 0 || info.st_uid == uid else {
            throw Problem(description: "DATA_DIR \(path) belongs to uid \(info.st_uid), but the bot runs as uid \(uid): "
                + "`chown -R \(uid):\(getegid()) \(path)`")
        }
        guard info.st_mode & 0o077 != 0 else { return false }
        guard chmod(path, 0o700) == 0 else {
            throw Problem(description: "DATA_DIR \(path) is open to other users and cannot be closed (\(String(cString: strerror(errno)))): `chmod 700 \(path)`")
        }
        return true
    }

    /// The workspace is shared with CLAUDE_USER through its group: group-owned by it,
    /// group-writable, and setgid so that what either user creates keeps the group. Fixed
    /// here when the bot owns the folder; otherwise the fix is named.
    static func checkSharedWorkspace(_ path: String, group: gid_t) throws(Problem) {
        guard let info = status(path) else { throw Problem(description: "WORKSPACE_ROOT \(path) is missing") }
        let wanted: mode_t = S_ISGID | 0o070
        if info.st_gid == group && info.st_mode & wanted == wanted { return }
        let fix = "`chown \(info.st_uid):\(group) \(path) && chmod 2775 \(path)`"
        guard info.st_uid == geteuid() else {
            throw Problem(description: "WORKSPACE_ROOT \(path) must belong to group \(SystemUser.groupName(group)) (gid \(group), CLAUDE_USER's), "
                + "be group-writable and setgid, so that the bot and Claude share it: \(fix)")
        }
        guard chown(path, uid_t.max, group) == 0, chmod(path, (info.st_mode & 0o7777) | wanted) == 0 else {
            throw Problem(description: "WORKSPACE_ROOT \(path) cannot be given to group \(SystemUser.groupName(group)) "
                + "(\(String(cString: strerror(errno))); the bot must be a member of it): \(fix)")
        }
    }

    /// Without a second user, the bot itself must be able to write the workspace.
    static func checkOwnWorkspace(_ path: String) throws(Problem) {
        guard geteuid() != 0, access(path, W_OK | X_OK) != 0 else { return }
        throw Problem(description: "WORKSPACE_ROOT \(path) is not writable by the bot (uid \(geteuid())): `chown -R \(geteuid()):\(getegid()) \(path)`")
    }

    /// CLAUDE_HOME (the CLI's login and transcripts) belongs to CLAUDE_USER. nil: missing.
    static func checkClaudeHome(_ path: String, user: SystemUser) throws(Problem) -> Bool {
        guard let info = status(path) else { return false }
        guard info.st_uid == user.uid else {
            throw Problem(description: "CLAUDE_HOME \(path) belongs to uid \(info.st_uid), but Claude runs as \(user.label): "
                + "`chown -R \(user.uid):\(user.gid) \(path)`")
        }
        return true
    }

    private static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }
}
