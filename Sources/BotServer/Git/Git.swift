import ClaudeRunner
import FoundationEssentials
import Subprocess
import SystemPackage

/// Why a git command did not do what was asked, in words a phone user can act on, with
/// git's own message kept for a code block.
struct GitError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case notARepository, timedOut, authenticationFailed, network, rejected, conflict, nothingToCommit, detachedHead
        case refused, missingGit, failed, foreignOwner
    }

    let kind: Kind
    let summary: String
    let output: String

    var description: String { summary + (output.isEmpty ? "" : ": " + output) }

    static func classify(arguments: [String], status: Int32, output: String) -> GitError {
        let lowered = output.lowercased()
        let command = arguments.first { !$0.hasPrefix("-") && !$0.contains("=") } ?? "git"
        if status == 124 { return GitError(kind: .timedOut, summary: "git \(command) took too long and was stopped", output: output) }
        if lowered.contains("dubious ownership") {
            // Git refuses a repository another user owns: here, one made before CLAUDE_USER.
            return GitError(
                kind: .foreignOwner,
                summary: "The repository belongs to another user than the one git runs as (CLAUDE_USER): give it to that user with chown -R",
                output: output)
        }
        if lowered.contains("not a git repository") {
            return GitError(kind: .notARepository, summary: "This folder is not a git repository (/init creates one, /clone brings one in)", output: output)
        }
        if lowered.contains("authentication failed") || lowered.contains("could not read username") || lowered.contains("permission denied (publickey")
            || lowered.contains("terminal prompts disabled")
        {
            return GitError(kind: .authenticationFailed, summary: "The remote refused the credentials (set GIT_TOKEN or GIT_SSH_KEY for private repositories)", output: output)
        }
        if lowered.contains("could not resolve host") || lowered.contains("unable to access") || lowered.contains("connection refused")
            || lowered.contains("could not read from remote repository")
        {
            return GitError(kind: .network, summary: "The remote could not be reached", output: output)
        }
        if lowered.contains("[rejected]") || lowered.contains("non-fast-forward") || lowered.contains("fetch first") {
            return GitError(kind: .rejected, summary: "The push was rejected: the remote has commits this branch does not (pull first)", output: output)
        }
        if lowered.contains("not possible to fast-forward") || lowered.contains("diverging branches") {
            return GitError(kind: .rejected, summary: "The branches have diverged: a fast-forward pull is not possible (/pull merge merges them)", output: output)
        }
        if lowered.contains("conflict") { return GitError(kind: .conflict, summary: "There are merge conflicts to resolve first", output: output) }
        if lowered.contains("nothing to commit") { return GitError(kind: .nothingToCommit, summary: "Nothing to commit: the working tree is clean", output: output) }
        if lowered.contains("detached head") || lowered.contains("not currently on a branch") {
            return GitError(kind: .detachedHead, summary: "HEAD is detached: switch to a branch first (/branch)", output: output)
        }
        return GitError(kind: .failed, summary: "git \(command) failed", output: output)
    }
}

/// Runs git: argv only (never a shell), a time limit, no prompts, no pager, no colour,
/// bounded output, and credentials given per command (never written to .git/config).
struct Git: Sendable {
    var executable = "git"
    var timeout: Duration = .seconds(120)
    var outputLimit = 4 << 20
    /// A token for https remotes, sent as an Authorization header per command.
    var token: String?
    /// A private key for ssh remotes.
    var sshKeyPath: String?
    var authorName: String?
    var authorEmail: String?
    var environment: [String: String] = ["PATH": "/usr/local/bin:/usr/bin:/bin"]
    /// Git runs as Claude does, through `claude-reaper` (`reaper`): a repository's hooks and
    /// config (core.fsmonitor, filters, core.sshCommand) are Claude's to write, so git must
    /// never run them with the bot's rights. Empty: git runs as the bot.
    var sandbox = ToolSandbox()
    var reaper: String?

    struct Output: Sendable {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// The identity a commit in `directory` gets: the repository's own (user.name in its
    /// .git/config) if it has one, else GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL as the default.
    func identityArguments(in directory: String) async -> [String] {
        var arguments: [String] = []
        if let authorName, (try? await run(["config", "--local", "--get", "user.name"], in: directory))?.isEmpty ?? true {
            arguments += ["-c", "user.name=\(authorName)"]
        }
        if let authorEmail, (try? await run(["config", "--local", "--get", "user.email"], in: directory))?.isEmpty ?? true {
            arguments += ["-c", "user.email=\(authorEmail)"]
        }
        return arguments
    }

    /// Runs `git <arguments>` in `directory`; throws a classified GitError unless it exits 0.
    @discardableResult
    func run(_ arguments: [String], in directory: String, remote: Bool = false) async throws(GitError) -> String {
        let output = try await execute(arguments, in: directory, remote: remote)
        guard output.status == 0 else {
            let text = (output.standardError + "\n" + output.standardOutput).trimmingWhitespace()
            throw GitError.classify(arguments: arguments, status: output.status, output: redact(text))
        }
        return output.standardOutput
    }

    func execute(_ arguments: [String], in directory: String, remote: Bool = false) async throws(GitError) -> Output {
        let (argv, environment) = invocation(arguments, remote: remote)
        do {
            let (executable, arguments) = launch(argv)
            let result = try await Subprocess.run(
                executable, arguments: Arguments(arguments), environment: Self.subprocessEnvironment(environment),
                workingDirectory: FilePath(directory), input: .none,
                output: .string(limit: outputLimit), error: .string(limit: 1 << 20))
            return Output(status: Self.status(result.terminationStatus), standardOutput: result.standardOutput, standardError: result.standardError)
        } catch {
            throw GitError(kind: .missingGit, summary: "git could not be run", output: "\(error)")
        }
    }

    /// Like `run`, for a long command whose stderr reports progress (`--progress`): each
    /// progress line ("Receiving objects:  45% (450/1000)") is handed to `progress` as it comes.
    func runReportingProgress(
        _ arguments: [String], in directory: String, remote: Bool, progress: @escaping @Sendable (String) async -> Void
    ) async throws(GitError) {
        let (argv, environment) = invocation(arguments, remote: remote)
        let status: Int32
        let tail: String
        do {
            let (executable, arguments) = launch(argv)
            let result = try await Subprocess.run(
                executable, arguments: Arguments(arguments), environment: Self.subprocessEnvironment(environment),
                workingDirectory: FilePath(directory), input: .none, output: .discarded, error: .sequence
            ) { execution in
                var pending: [UInt8] = []
                // The last few lines, not only the last: git's cause ("Permission denied
                // (publickey)") comes lines before its closing advice, and classify needs it.
                var last: [String] = []
                for try await chunk in execution.standardError {
                    pending += chunk.withUnsafeBytes { Array($0) }
                    // git rewrites its progress line with \r; every \r or \n ends one.
                    while let end = pending.firstIndex(where: { $0 == 13 || $0 == 10 }) {
                        let line = String(decoding: pending[..<end], as: UTF8.self).trimmingWhitespace()
                        pending.removeSubrange(...end)
                        guard !line.isEmpty else { continue }
                        last.append(line)
                        if last.count > 8 { last.removeFirst() }
                        await progress(line)
                    }
                    if pending.count > 8192 { pending.removeAll() }
                }
                return (last + [String(decoding: pending, as: UTF8.self)]).joined(separator: "\n").trimmingWhitespace()
            }
            status = Self.status(result.terminationStatus)
            tail = result.closureResult
        } catch {
            throw GitError(kind: .missingGit, summary: "git could not be run", output: "\(error)")
        }
        guard status == 0 else { throw GitError.classify(arguments: arguments, status: status, output: redact(tail)) }
    }

    /// coreutils `timeout` with git's argv, behind the reaper when git is sandboxed. A sandbox
    /// without a reaper names it anyway, so that git fails rather than run unsandboxed.
    private func launch(_ argv: [String]) -> (Executable, [String]) {
        guard !sandbox.isEmpty else { return (.name("timeout"), argv) }
        let reaper = reaper ?? "claude-reaper"
        return (reaper.hasPrefix("/") ? .path(FilePath(reaper)) : .name(reaper), sandbox.reaperArguments + ["timeout"] + argv)
    }

    private static func status(_ termination: TerminationStatus) -> Int32 {
        switch termination {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    private static func subprocessEnvironment(_ values: [String: String]) -> Subprocess.Environment {
        .custom(Dictionary(uniqueKeysWithValues: values.compactMap { key, value in
            Subprocess.Environment.Key(rawValue: key).map { ($0, value) }
        }))
    }

    func invocation(_ arguments: [String], remote: Bool) -> (argv: [String], environment: [String: String]) {
        let prefix = ["-c", "color.ui=never", "-c", "core.pager=cat", "-c", "advice.detachedHead=false"]
        var environment = self.environment
        if remote, let token {
            // Per command, never stored: GitHub, GitLab and Gitea accept a token as Basic auth.
            // In the environment, not on the command line: /proc/PID/cmdline is every user's to
            // read, /proc/PID/environ only the process's own user's.
            let basic = Data("x-access-token:\(token)".utf8).base64EncodedString()
            environment["GIT_CONFIG_COUNT"] = "1"
            environment["GIT_CONFIG_KEY_0"] = "http.extraHeader"
            environment["GIT_CONFIG_VALUE_0"] = "Authorization: Basic \(basic)"
        }
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_PAGER"] = "cat"
        environment["LC_ALL"] = "C"
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        if let sshKeyPath {
            environment["GIT_SSH_COMMAND"] = "ssh -i \(sshKeyPath) -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
        } else {
            environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
        }
        let seconds = max(1, Int(timeout.components.seconds))
        // coreutils timeout bounds the whole command, children included; 124 means it fired.
        return (["--kill-after=5", String(seconds), executable] + prefix + arguments, environment)
    }

    /// Tokens never reach a message or a log, even when git echoes a URL or a header.
    func redact(_ text: String) -> String {
        guard let token, !token.isEmpty else { return text }
        return text.replacingAll(token, with: "•••").replacingAll(Data("x-access-token:\(token)".utf8).base64EncodedString(), with: "•••")
    }
}
