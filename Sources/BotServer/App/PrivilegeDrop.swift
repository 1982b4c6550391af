import CLinux
import Glibc

/// A bot started as root with CLAUDE_USER does not stay root: it becomes BOT_USER (a member
/// of CLAUDE_USER's group, for the shared workspace) and starts itself again. It keeps only
/// cap_setuid and cap_setgid, as ambient capabilities, for claude-reaper to switch Claude's
/// processes to CLAUDE_USER; the reaper drops them before it runs anything. The exec makes
/// the new credentials hold for every thread the bot will have, which capset alone would not.
enum PrivilegeDrop {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Whether this process should drop: root, with a CLAUDE_USER to switch Claude to.
    static func isNeeded(_ settings: IsolationSettings) -> Bool {
        geteuid() == 0 && settings.claudeUser != nil
    }

    /// Creates the folders the bot and Claude need that are missing, with their owners, then
    /// drops to BOT_USER and executes this program again with the same arguments and
    /// environment. Returns only by throwing.
    static func becomeBotUser(
        _ settings: IsolationSettings, dataDirectory: String, workspace: String, claudeHome: String?
    ) throws(Failure) -> Never {
        guard let claude = settings.claudeUser else { throw Failure(description: "CLAUDE_USER is not set") }
        guard let bot = settings.botUser else {
            throw Failure(description: "is required when the bot starts as root with CLAUDE_USER "
                + "(the unprivileged user the bot itself runs as, e.g. `useradd --system bot`)")
        }
        try create(dataDirectory, mode: 0o700, owner: bot.uid, group: bot.gid)
        try create(workspace, mode: 0o2775, owner: bot.uid, group: claude.gid)
        if let claudeHome { try create(claudeHome, mode: 0o700, owner: claude.uid, group: claude.gid) }

        let groups = bot.groups + (bot.groups.contains(claude.gid) ? [] : [claude.gid])
        guard clinux_keep_capabilities_through_setuid() == 0,
            setgroups(groups.count, groups) == 0,
            setresgid(bot.gid, bot.gid, bot.gid) == 0,
            setresuid(bot.uid, bot.uid, bot.uid) == 0
        else { throw Failure(description: "cannot drop from root to BOT_USER \(bot.label): \(String(cString: strerror(errno)))") }
        guard clinux_pass_on_user_switch_capabilities() == 0 else {
            throw Failure(description: "cannot keep cap_setuid and cap_setgid for claude-reaper: \(String(cString: strerror(errno)))")
        }
        if let home = bot.home { setenv("HOME", home, 1) }
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        // By its real path, so the process keeps its name ("exe" otherwise, in ps and logs).
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        execv(length > 0 ? path : Array("/proc/self/exe".utf8CString), &argv)
        throw Failure(description: "cannot start again as BOT_USER: \(String(cString: strerror(errno)))")
    }

    /// A missing folder (and its missing parents, root's) made with this owner and mode. An
    /// existing one is left as it is: the checks after the drop name any fix it needs.
    private static func create(_ path: String, mode: mode_t, owner: uid_t, group: gid_t) throws(Failure) {
        var info = stat()
        guard stat(path, &info) != 0 else { return }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty {
            do {
                try DataDirectory.create(parent)
            } catch {
                throw Failure(description: "cannot create \(parent): \(error)")
            }
        }
        guard mkdir(path, mode) == 0, chown(path, owner, group) == 0, chmod(path, mode) == 0 else {
            throw Failure(description: "cannot create \(path) for uid \(owner): \(String(cString: strerror(errno)))")
        }
    }
}
