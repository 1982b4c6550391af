import Glibc

/// The command line a session's CLI process is started with, and where its binary is.
struct CLIInvocation {
    let configuration: ClaudeConfiguration
    let options: SessionOptions
    let permissionMode: PermissionMode
    let model: String?
    /// The session's transcript exists: resume it rather than create it.
    let resume: Bool

    var arguments: [String] {
        var arguments = ["--output-format", "stream-json", "--verbose", "--permission-prompt-tool", "stdio"]
        arguments.append("--permission-mode=\(permissionMode.rawValue)")
        if configuration.includePartialMessages { arguments.append("--include-partial-messages") }
        if let model { arguments.append("--model=\(model)") }
        if !options.allowedTools.isEmpty { arguments.append("--allowedTools=\(options.allowedTools.joined(separator: ","))") }
        if !options.disallowedTools.isEmpty { arguments.append("--disallowedTools=\(options.disallowedTools.joined(separator: ","))") }
        if let maxTurns = options.maxTurns { arguments.append("--max-turns=\(maxTurns)") }
        if let note = configuration.appendSystemPrompt { arguments += ["--append-system-prompt", note] }
        // The '=' form: an id can never be read as another flag.
        arguments.append(resume ? "--resume=\(options.sessionID)" : "--session-id=\(options.sessionID)")
        arguments += ["--input-format", "stream-json"]
        return arguments
    }

    /// What to start: the reaper with the CLI as its command when there is one (it applies
    /// the niceness and the sandbox, and ends the CLI if `parent`, this process, dies), else
    /// the CLI, behind coreutils `nice` when the niceness is above zero and `nice` is on PATH.
    /// A sandbox without a reaper starts the reaper by name, which then fails to run: never
    /// the CLI without the sandbox it was configured with.
    static func launch(
        claude: String, arguments: [String], reaper: String?, niceness: Int, path: String?, parent: pid_t = getpid(),
        sandbox: ToolSandbox = ToolSandbox()
    ) -> (executable: String, arguments: [String]) {
        if reaper != nil || !sandbox.isEmpty {
            let nice = niceness > 0 ? ["--nice", String(niceness)] : []
            return (reaper ?? "claude-reaper", nice + ["--parent", String(parent)] + sandbox.reaperArguments + [claude] + arguments)
        }
        let nice = resolve("nice", path: path)
        if niceness > 0, nice.hasPrefix("/") {
            return (nice, ["-n", String(niceness), claude] + arguments)
        }
        return (claude, arguments)
    }

    /// A bare name is looked up on the CLI's PATH, as a shell would; a relative path is made
    /// absolute against our working directory (the child starts in the project's, where it
    /// would otherwise be looked up — found by the runner benchmark).
    static func resolve(_ executable: String, path: String?) -> String {
        if executable.hasPrefix("/") { return executable }
        if executable.contains("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            guard getcwd(&buffer, buffer.count) != nil else { return executable }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + executable
        }
        for directory in (path ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return executable
    }
}
