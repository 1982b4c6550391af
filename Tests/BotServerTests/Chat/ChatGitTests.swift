import ClaudeRunner
import Foundation
import Testing
import TestSupport

@testable import BotServer

/// Git from the chat against a real remote: a bare repository served by `git http-backend`
/// (Tests/FakeServers/git_http_server.py) that requires a token.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatGitTests {
    static let token = "ghp_testtoken0123456789abcdefABCDEF"

    /// A bare repository with one commit, served over HTTP; and a way to run git by hand.
    struct Remote {
        let server: FakeServerProcess
        let root: String
        var scheme = "http"
        var url: String { "\(scheme)://127.0.0.1:\(server.port)/app.git" }

        /// Over TLS when `certificate` is given (https://).
        static func start(in directory: String, certificate: (cert: String, key: String)? = nil) async throws -> Remote {
            let root = try await makeRepository(in: directory)
            let tls = certificate.map { ["--cert", $0.cert, "--key", $0.key] } ?? []
            let server = try await FakeServerProcess.start(script: "git_http_server.py", arguments: ["--root", root, "--token", ChatGitTests.token] + tls)
            return Remote(server: server, root: root, scheme: certificate == nil ? "http" : "https")
        }

        /// `directory`/remotes/app.git, a bare repository with one commit (README.md): the remotes folder.
        static func makeRepository(in directory: String) async throws -> String {
            let root = directory + "/remotes"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try await Self.git(["init", "-q", "--bare", "--initial-branch=main", root + "/app.git"])
            let seed = directory + "/seed"
            try await Self.git(["clone", "-q", root + "/app.git", seed])
            try "hello\n".write(toFile: seed + "/README.md", atomically: true, encoding: .utf8)
            try await Self.git(["-C", seed, "add", "."])
            try await Self.git(["-C", seed, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "-q", "-m", "Seed"])
            try await Self.git(["-C", seed, "push", "-q", "origin", "main"])
            return root
        }

        @discardableResult
        static func git(_ arguments: [String]) async throws -> String {
            let (status, output) = try await offCooperativePool { try ChildProcess.run(["git"] + arguments) }
            guard status == 0 else { throw TestSetupError("git \(arguments.joined(separator: " ")): \(output)") }
            return output
        }

        func log() async throws -> String { try await Self.git(["--git-dir", root + "/app.git", "log", "--format=%s", "main"]) }
    }

    private static func environment(_ remote: Remote) -> [String: String] {
        ["GIT_TOKEN": token, "GIT_AUTHOR_NAME": "Bot User", "GIT_AUTHOR_EMAIL": "bot@example.com", "GIT_TIMEOUT_SECONDS": "60"]
    }

    @Test func cloneDiffCommitPushAndARejectedPush() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let remote = try await Remote.start(in: harness.directory.path)
        defer { remote.server.stop() }
        let clone = harness.workspace + "/shop"
        let (status, log) = try await harness.run(Self.environment(remote)) { _ in
            try await harness.send("/clone \(remote.url) shop")
            #expect(try await harness.waitForMessage(containing: "Now in shop") != nil)
            #expect(try String(contentsOfFile: clone + "/README.md", encoding: .utf8) == "hello\n")
            // git's progress was shown in the "Cloning" message.
            let progress = try await harness.waitForMessage(containing: "Cloning into shop")
            #expect((progress?["text"] as? String)?.contains("objects") == true || (progress?["text"] as? String)?.contains("done") == true)

            try "hello\nworld\n".write(toFile: clone + "/README.md", atomically: true, encoding: .utf8)
            try "new\n".write(toFile: clone + "/NEW.txt", atomically: true, encoding: .utf8)
            try await harness.send("/diff")
            let diff = try #require(try await harness.waitForMessage(containing: "+world"))
            #expect((diff["text"] as? String)?.contains("NEW.txt") == true)
            #expect((diff["raw_text"] as? String)?.hasPrefix("<pre><code class=\"language-diff\">") == true)

            try await harness.send("/status")
            #expect(try await harness.waitForMessage(containing: "Branch main...origin/main") != nil)

            try await harness.send("/commit Add world")
            #expect(try await harness.waitForMessage(containing: "Committed") != nil)
            try await harness.send("/push")
            let confirm = try #require(try await harness.waitForMessage(containing: "Push main to origin?"))
            try await harness.tap(try #require(ChatHarness.button("Push main", in: confirm)), on: ChatHarness.messageID(confirm))
            #expect(try await harness.waitForMessage(containing: "Pushed main to origin") != nil)
            #expect(try await remote.log().contains("Add world"))

            // Someone else pushes: a fast-forward pull brings it in.
            let other = harness.directory.path + "/other"
            try await Remote.git(["clone", "-q", remote.root + "/app.git", other])
            try await Remote.git(["-C", other, "-c", "user.name=O", "-c", "user.email=o@example.com", "commit", "-q", "--allow-empty", "-m", "Theirs"])
            try await Remote.git(["-C", other, "push", "-q", "origin", "main"])
            try await harness.send("/pull")
            #expect(try await harness.waitForMessage(containing: "Pulled.") != nil)
            #expect(try await Remote.git(["-C", clone, "log", "-1", "--format=%s"]).contains("Theirs"))
            // They push again first: ours is rejected, said plainly.
            try await Remote.git(["-C", other, "-c", "user.name=O", "-c", "user.email=o@example.com", "commit", "-q", "--allow-empty", "-m", "Theirs again"])
            try await Remote.git(["-C", other, "push", "-q", "origin", "main"])
            try String(repeating: "line\n", count: 3000).write(toFile: clone + "/big.txt", atomically: true, encoding: .utf8)
            try await harness.send("/diff")
            let document = try #require(try await harness.waitForCall("sendDocument"))
            #expect((document.files["document"] as? [String: Any])?["filename"] as? String == "changes.diff")
            try await harness.send("/commit Big file")
            #expect(try await harness.waitForMessage(containing: "Committed") != nil)
            try await harness.send("/push")
            // The first confirmation has lost its buttons: the second is the one that has them.
            var second: [String: Any]?
            #expect(await eventually(within: .seconds(10)) {
                second = try? await harness.bot.messages(chat: ChatHarness.user).last {
                    ($0["text"] as? String)?.contains("Push main to origin?") == true && ChatHarness.button("Push main", in: $0) != nil
                }
                return second != nil
            })
            try await harness.tap(try #require(ChatHarness.button("Push main", in: second)), on: ChatHarness.messageID(second))
            #expect(try await harness.waitForMessage(containing: "The push was rejected") != nil)
            try await harness.send("/pull")
            #expect(try await harness.waitForMessage(containing: "fast-forward pull is not possible") != nil)
            try await harness.send("/pull merge")
            #expect(await eventually(within: .seconds(20)) {
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["text"] as? String)?.hasPrefix("⬇️ Pulled.") == true }.count == 2
            })
            #expect(try await Remote.git(["-C", clone, "log", "--format=%s"]).contains("Theirs again"))

            try await harness.send("/log 5")
            #expect(try await harness.waitForMessage(containing: "Bot User: Big file") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        // The token never lands in the repository's config, the log or anything sent.
        let config = try String(contentsOfFile: clone + "/.git/config", encoding: .utf8)
        #expect(!config.contains(Self.token) && config.contains(remote.url))
        #expect(!log.contains(Self.token))
        let everything = try await harness.bot.calls().map { "\($0.params)" }.joined()
        #expect(!everything.contains(Self.token) && !everything.contains("x-access-token"))
    }

    @Test func branchesUndoAndStash() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let (status, log) = try await harness.run(["GIT_AUTHOR_NAME": "Bot User", "GIT_AUTHOR_EMAIL": "bot@example.com"]) { _ in
            try await harness.send("/init fresh")
            #expect(try await harness.waitForMessage(containing: "Now in fresh") != nil)
            let repo = harness.workspace + "/fresh"
            try await harness.send("/branch feature/x")
            #expect(try await harness.waitForMessage(containing: "Created and switched to feature/x") != nil)
            try await harness.send("/branch")
            let list = try #require(try await harness.waitForMessage(containing: "Branches"))
            try await harness.tap(try #require(ChatHarness.button("Switch to main", in: list)), on: ChatHarness.messageID(list))
            #expect(try await harness.waitForMessage(containing: "Switched to main") != nil)

            try "scratch".write(toFile: repo + "/scratch.txt", atomically: true, encoding: .utf8)
            try await harness.send("/stash")
            #expect(try await harness.waitForMessage(containing: "Changes stashed") != nil)
            #expect(!FileManager.default.fileExists(atPath: repo + "/scratch.txt"))
            try await harness.send("/stash pop")
            #expect(try await harness.waitForMessage(containing: "restored") != nil)
            #expect(FileManager.default.fileExists(atPath: repo + "/scratch.txt"))

            try await harness.send("/undo")
            let confirm = try #require(try await harness.waitForMessage(containing: "throws away every uncommitted change"))
            #expect((confirm["text"] as? String)?.contains("scratch.txt") == true)
            try await harness.tap(try #require(ChatHarness.button("Discard", in: confirm)), on: ChatHarness.messageID(confirm))
            #expect(try await harness.waitForMessage(containing: "Uncommitted changes discarded") != nil)
            #expect(!FileManager.default.fileExists(atPath: repo + "/scratch.txt"))
            try await harness.send("/commit")
            try await harness.send("/commit nothing here")
            #expect(await eventually(within: .seconds(10)) {
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["text"] as? String)?.contains("Nothing to commit") == true }.count == 2
            })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func commitWithoutAMessageUsesOneClaudeWrote() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await Remote.git(["init", "-q", "--initial-branch=main", harness.project])
        try await Remote.git(["-C", harness.project, "-c", "user.name=S", "-c", "user.email=s@example.com", "commit", "-q", "--allow-empty", "-m", "start"])
        try "hi\n".write(toFile: harness.project + "/greeting.txt", atomically: true, encoding: .utf8)
        try await harness.anthropic.script([["text": "`Add a greeting file.`"]])
        let (status, log) = try await harness.run(["GIT_AUTHOR_NAME": "Bot User", "GIT_AUTHOR_EMAIL": "bot@example.com"]) { _ in
            try await harness.send("/commit")
            let proposalOrNil = try await harness.waitForMessage(containing: "Commit message:")
            let debugTexts = try await harness.bot.messages(chat: ChatHarness.user).map { "\($0["text"] ?? "")" }
            let debugCalls = try await harness.bot.calls().suffix(12).map { "\($0.method) \($0.params)" }
            let proposal = try #require(proposalOrNil, "\(debugTexts) \(debugCalls)")
            #expect((proposal["text"] as? String)?.contains("Add a greeting file") == true)
            try await harness.tap(try #require(ChatHarness.button("Commit", in: proposal)), on: ChatHarness.messageID(proposal))
            #expect(try await harness.waitForMessage(containing: "Committed") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(try await Remote.git(["-C", harness.project, "log", "-1", "--format=%s %an"]).trimmingCharacters(in: .whitespacesAndNewlines)
            == "Add a greeting file Bot User")
        // The diff reached Claude, in a session of its own with no tools to run.
        let request = try #require(try await harness.anthropic.mainRequests().last).description
        #expect(request.contains("greeting.txt") && request.contains("commit message"))
    }

    @Test func aProjectsOwnIdentityWinsOverTheDefault() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await Remote.git(["init", "-q", "--initial-branch=main", harness.project])
        try await Remote.git(["-C", harness.project, "config", "user.name", "Project Person"])
        try await Remote.git(["-C", harness.project, "config", "user.email", "person@example.com"])
        try "x".write(toFile: harness.project + "/x.txt", atomically: true, encoding: .utf8)
        let (status, log) = try await harness.run(["GIT_AUTHOR_NAME": "Bot User", "GIT_AUTHOR_EMAIL": "bot@example.com"]) { _ in
            try await harness.send("/commit Add x")
            #expect(try await harness.waitForMessage(containing: "Committed") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(try await Remote.git(["-C", harness.project, "log", "-1", "--format=%an <%ae>"]).trimmingCharacters(in: .whitespacesAndNewlines)
            == "Project Person <person@example.com>")
    }

    @Test func hostileURLsAreRefusedBeforeGitRuns() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let (status, log) = try await harness.run { _ in
            for url in ["ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /tmp/pwned", "file:///etc", "/etc", "../app",
                        "http://example.com/repo.git", "git://example.com/repo.git"] {
                try await harness.send("/clone \(url)")
            }
            #expect(await eventually(within: .seconds(15)) {
                ((try? await harness.bot.messages(chat: ChatHarness.user)) ?? []).filter { ($0["text"] as? String)?.hasPrefix("🚫") == true }.count == 7
            })
            try await harness.send("/clone https://example.com/a.git ../escape")
            #expect(try await harness.waitForMessage(containing: "is not a folder name") != nil)
            try await harness.send("/diff")
            #expect(try await harness.waitForMessage(containing: "not a git repository") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.workspace).sorted() == ["app", "other"])
    }

    @Test func anAnswerAfterChangesOffersDiffCommitAndDiscardUntilCommitted() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await Remote.git(["init", "-q", "--initial-branch=main", harness.project])
        try await Remote.git(["-C", harness.project, "-c", "user.name=S", "-c", "user.email=s@example.com", "commit", "-q", "--allow-empty", "-m", "start"])
        try await harness.anthropic.script([
            ["text": "Writing.", "tool_use": ["name": "Write", "input": ["file_path": .string(harness.project + "/made.txt"), "content": "made by claude\n"]]],
            ["text": "Made it."],
        ])
        let (status, log) = try await harness.run(["GIT_AUTHOR_NAME": "Bot User", "GIT_AUTHOR_EMAIL": "bot@example.com"]) { _ in
            try await harness.send("/mode acceptEdits")
            #expect(try await harness.waitForMessage(containing: "Mode is now acceptEdits") != nil)
            try await harness.send("Make a file")
            let answer = try #require(try await harness.waitForMessage(containing: "Made it."))
            #expect(ChatHarness.button("Commit", in: answer) != nil && ChatHarness.button("Discard", in: answer) != nil)
            try await harness.tap(try #require(ChatHarness.button("Show diff", in: answer)), on: ChatHarness.messageID(answer))
            #expect(try await harness.waitForMessage(containing: "+made by claude") != nil)

            // Committed: the answer's git row is stale and goes; Continue stays. (A commit from
            // its own Commit button ends the same way; Claude's proposal needs a script of its own.)
            try await harness.send("/commit Add made.txt")
            #expect(try await harness.waitForMessage(containing: "Committed") != nil)
            #expect(await eventually(within: .seconds(10)) {
                let shown = try? await harness.bot.messages(chat: ChatHarness.user).first { ChatHarness.messageID($0) == ChatHarness.messageID(answer) }
                return ChatHarness.button("Commit", in: shown) == nil && ChatHarness.button("Discard", in: shown) == nil
                    && ChatHarness.button("Show diff", in: shown) == nil && ChatHarness.button("Continue", in: shown) != nil
            })
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }
}

@Suite struct GitPolicyTests {
    @Test func onlyNetworkRemotesAreAccepted() {
        for good in ["https://github.com/owner/repo.git", "ssh://git@host:22/owner/repo", "git@github.com:owner/repo.git", "http://127.0.0.1:8080/r.git"] {
            #expect(throws: Never.self) { try GitURL.validate(good).get() }
        }
        for bad in ["ext::sh -c 'id'", "--upload-pack=evil", "file:///etc", "/etc/passwd", "relative/path", "http://example.com/r.git",
                    "git://host/r", "https://", "-oProxyCommand=x", "https://host/r.git\n--config", "fd::17"] {
            #expect(throws: GitError.self) { try GitURL.validate(bad).get() }
        }
        #expect(GitURL.defaultName("https://github.com/owner/my-repo.git") == "my-repo")
        #expect(GitURL.defaultName("git@github.com:owner/tool") == "tool")
        #expect(!GitURL.isValidFolderName("../x") && !GitURL.isValidFolderName(".hidden") && GitURL.isValidFolderName("my_repo-2"))
        #expect(Conversation.isValidBranchName("feature/x-1") && !Conversation.isValidBranchName("--force") && !Conversation.isValidBranchName("a..b"))
    }

    @Test func gitsMessagesBecomeCauses() {
        #expect(GitError.classify(arguments: ["push"], status: 1, output: " ! [rejected] main -> main (fetch first)").kind == .rejected)
        #expect(GitError.classify(arguments: ["status"], status: 128, output: "fatal: not a git repository (or any of the parent directories): .git").kind == .notARepository)
        #expect(GitError.classify(arguments: ["clone"], status: 128, output: "fatal: could not read Username for 'https://github.com': terminal prompts disabled").kind == .authenticationFailed)
        #expect(GitError.classify(arguments: ["fetch"], status: 124, output: "").kind == .timedOut)
        #expect(GitError.classify(arguments: ["status"], status: 128, output: "fatal: detected dubious ownership in repository at '/w/app'").kind == .foreignOwner)
        let git = Git(token: "s3cret")
        #expect(git.redact("remote: https://x-access-token:s3cret@host") == "remote: https://x-access-token:•••@host")
    }

    /// ssh's cause comes lines before git's closing advice: a clone (which reports progress)
    /// is classified by it, not by "and the repository exists.".
    @Test func aCloneRefusedBySSHIsSaidAsRefusedCredentials() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fake = directory.path + "/git"
        try """
            #!/bin/sh
            printf 'Cloning into x...\\nroot@127.0.0.1: Permission denied (publickey).\\nfatal: Could not read from remote repository.\\n\\nPlease make sure you have the correct access rights\\nand the repository exists.\\n' >&2
            exit 128

            """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        do {
            try await Git(executable: fake).runReportingProgress(["clone", "--progress", "--", "ssh://git@host/r.git", "x"], in: directory.path, remote: true) { _ in }
            Issue.record("the clone did not fail")
        } catch {
            #expect(error.kind == .authenticationFailed, "\(error)")
            #expect(error.output.contains("Permission denied (publickey)") && error.output.hasSuffix("and the repository exists."), "\(error.output)")
        }
    }

    /// Every user may read a process's command line; only its own user its environment.
    @Test func theTokenTravelsInGitsEnvironmentNeverOnItsCommandLine() {
        let git = Git(token: "s3cret")
        let basic = Data("x-access-token:s3cret".utf8).base64EncodedString()
        let (argv, environment) = git.invocation(["push", "origin", "main"], remote: true)
        #expect(!argv.joined(separator: " ").contains(basic) && !argv.joined(separator: " ").contains("s3cret"), "\(argv)")
        #expect(environment["GIT_CONFIG_KEY_0"] == "http.extraHeader" && environment["GIT_CONFIG_VALUE_0"] == "Authorization: Basic \(basic)")
        #expect(git.invocation(["status"], remote: false).environment["GIT_CONFIG_VALUE_0"] == nil, "local commands get no token")
    }
}
