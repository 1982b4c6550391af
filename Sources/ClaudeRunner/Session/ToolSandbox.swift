/// Who Claude's processes run as and what they may not see, as `claude-reaper` applies it
/// before it starts a command: the CLI, and every git command the host runs in a project
/// Claude can write to (a repository's hooks and config are Claude's to plant).
public struct ToolSandbox: Sendable, Equatable {
    /// An unprivileged user of its own (CLAUDE_USER), in numbers: the reaper never looks up names.
    public struct User: Sendable, Equatable {
        public let uid: UInt32
        public let gid: UInt32
        /// Supplementary groups, the primary one included when it is a member of its own.
        public let groups: [UInt32]

        public init(uid: UInt32, gid: UInt32, groups: [UInt32]) {
            self.uid = uid
            self.gid = gid
            self.groups = groups
        }

        /// `UID:GID[:G1,G2,...]`, the reaper's `--user` argument.
        var argument: String {
            "\(uid):\(gid)" + (groups.isEmpty ? "" : ":" + groups.map(String.init).joined(separator: ","))
        }
    }

    /// nil: the host's own user.
    public var user: User?
    /// Absolute paths covered in the command's private view of the file system (the host's
    /// data directory, its secret files): for commands that run as the host's own user.
    public var hiddenPaths: [String]

    public init(user: User? = nil, hiddenPaths: [String] = []) {
        self.user = user
        self.hiddenPaths = hiddenPaths
    }

    /// Nothing to apply: the command runs as the host does.
    public var isEmpty: Bool { user == nil && hiddenPaths.isEmpty }

    /// The reaper's options that apply this sandbox.
    public var reaperArguments: [String] {
        (user.map { ["--user", $0.argument] } ?? []) + hiddenPaths.flatMap { ["--hide", $0] }
    }
}
