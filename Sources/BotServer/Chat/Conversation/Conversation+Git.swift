import FoundationEssentials
import Glibc

/// Git from the chat: see and ship what Claude changed, bring repositories in. Every call
/// goes through `Git` (argv, time limit, no prompts); failures are one sentence plus git's
/// own words in a code block.
extension Conversation {
    var git: Git { context.settings.git }

    func gitCommand(_ command: ParsedCommand, sender: Sender) async -> Bool {
        switch command.name {
        case "diff": await showDiff(path: command.arguments)
        case "log": await showLog(count: Int(command.arguments) ?? 10)
        case "branch": await branch(command.arguments)
        case "commit": await commit(message: command.arguments, sender: sender)
        case "push": await confirmPush()
        case "pull": await pull(merge: command.arguments.lowercased() == "merge")
        case "stash": await stash(command.arguments)
        case "undo": await confirmUndo()
        case "clone": await clone(command.arguments, sender: sender)
        case "init" where !command.arguments.isEmpty: await initRepository(command.arguments)
        default: return false
        }
        return true
    }

    func gitCallback(_ action: String, _ argument: String, sender: Sender, messageID: Int64?, tap: Tap? = nil) async -> Bool {
        // Only an answer's git row has these: its message is the one to tidy after a commit.
        if ["diff", "commit-ask", "discard"].contains(action), let messageID, let tap, let keyboard = tap.keyboard {
            gitActionsMessage = (messageID, keyboard.removingRow(with: tap.data))
        }
        switch action {
        case "diff": await showDiff(path: "")
        case "commit-ask": await proposeCommitMessage()
        case "commit": await commit(message: argument, sender: sender, messageID: messageID)
        case "push": await push(sender: sender, messageID: messageID)
        case "undo": await undo(sender: sender, messageID: messageID)
        case "discard": await confirmUndo()
        case "branch": await switchBranch(argument)
        case "dismiss": await clearButtons(messageID)
        default: return false
        }
        return true
    }

    private func clearButtons(_ messageID: Int64?) async {
        guard let messageID else { return }
        _ = try? await context.outbox.editReplyMarkup(EditMessageReplyMarkup(chatID: key.chatID, messageID: messageID, replyMarkup: nil))
    }

    /// After a commit or a discard: the answer's Show diff / Commit / Discard row would act
    /// on changes that are gone. Its other buttons (Continue, files) stay.
    private func removeStaleGitActions() async {
        guard let (messageID, otherRows) = gitActionsMessage else { return }
        gitActionsMessage = nil
        _ = try? await context.outbox.editReplyMarkup(EditMessageReplyMarkup(chatID: key.chatID, messageID: messageID, replyMarkup: otherRows))
    }

    func replyGitError(_ error: GitError) async {
        var text = "⚠️ " + TelegramHTML.escape(error.summary) + "."
        if !error.output.isEmpty { text += "\n" + ApprovalText.code(ProgressRenderer.tail(error.output, 1500), language: nil) }
        await reply(text)
    }

    // MARK: Looking

    /// Branch, upstream and what changed: the git part of /status (nil outside a repository).
    func gitStatusLines() async -> [String]? {
        guard let status = try? await git.run(["status", "--porcelain=v1", "--branch"], in: settings.project) else { return nil }
        let lines = status.split(separator: "\n").map(String.init)
        var result: [String] = []
        if let head = lines.first, head.hasPrefix("## ") {
            result.append("🌿 <b>Branch</b> <code>\(TelegramHTML.escape(String(head.dropFirst(3))))</code>")
        }
        let changes = lines.dropFirst()
        result.append(changes.isEmpty ? "✨ Working tree clean" : "📝 \(changes.count) changed file\(changes.count == 1 ? "" : "s")")
        for change in changes.prefix(10) { result.append("<code>\(TelegramHTML.escape(change))</code>") }
        if changes.count > 10 { result.append("… and \(changes.count - 10) more") }
        return result
    }

    func showDiff(path: String) async {
        var arguments = ["diff", "HEAD", "--no-ext-diff", "--stat=72", "--patch"]
        if !path.isEmpty {
            guard case .success(let resolved) = WorkspacePath.resolveFile(path, in: context.settings.workspaceRoot, from: settings.project) else {
                await reply("🚫 That path is not inside the project.")
                return
            }
            arguments += ["--", resolved]
        }
        do {
            try await addIntentToAdd()
            let diff = try await git.run(arguments, in: settings.project)
            guard !diff.trimmingWhitespace().isEmpty else {
                await reply("✨ No changes since the last commit.")
                return
            }
            await sendDiff(diff)
        } catch {
            if error.output.contains("ambiguous argument 'HEAD'") {
                await reply("The repository has no commit yet: nothing to compare with.")
            } else {
                await replyGitError(error)
            }
        }
    }

    /// New files show in the diff (an intent-to-add entry stages nothing of their content).
    private func addIntentToAdd() async throws(GitError) {
        try await git.run(["add", "--intent-to-add", "--all"], in: settings.project)
    }

    private func sendDiff(_ diff: String) async {
        let html = "<pre><code class=\"language-diff\">" + TelegramHTML.escape(diff) + "</code></pre>"
        if StyledText(html: html).text.utf16.count <= 3800 {
            await reply(html)
            return
        }
        // Long: the summary (files and +/- counts) as a message, the whole diff as a file.
        let summary = diff.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.hasPrefix("diff --git") }.joined(separator: "\n")
        let path = context.settings.temporaryDirectory + "/changes-\(key.chatID)-\(CallbackStore.randomToken()).diff"
        let bytes = Array(diff.utf8)
        guard LocalFile.write(bytes, to: path) else {
            await reply("Could not write the diff file.")
            return
        }
        defer { unlink(path) }
        let caption = "<pre>" + TelegramHTML.escape(ToolActivity.shorten(summary, to: 900)) + "</pre>"
        let upload = TelegramBotAPI.Upload(field: "document", path: path, filename: "changes.diff", contentType: "text/x-diff", size: bytes.count)
        do {
            _ = try await context.outbox.sendFile(method: "sendDocument", chatID: key.chatID, messageThreadID: key.threadID, caption: caption, file: upload)
        } catch {
            await reply("The diff could not be sent: \(TelegramHTML.escape("\(error)"))")
        }
    }

    private func showLog(count: Int) async {
        let n = min(max(count, 1), 50)
        do {
            let log = try await git.run(["log", "-n", String(n), "--date=relative", "--format=%h %ad %an: %s"], in: settings.project)
            await reply(log.isEmpty ? "No commits yet." : "<pre>" + TelegramHTML.escape(log) + "</pre>")
        } catch {
            await replyGitError(error)
        }
    }

    // MARK: Branches

    private func branch(_ argument: String) async {
        if !argument.isEmpty {
            guard Self.isValidBranchName(argument) else {
                await reply("🚫 Not a branch name I will create.")
                return
            }
            do {
                try await git.run(["switch", "-c", argument], in: settings.project)
                await reply("🌿 Created and switched to <code>\(TelegramHTML.escape(argument))</code>.")
            } catch {
                await replyGitError(error)
            }
            return
        }
        do {
            let output = try await git.run(["branch", "--format=%(HEAD) %(refname:short)"], in: settings.project)
            var rows: [[InlineKeyboardButton]] = []
            var lines: [String] = []
            for line in output.split(separator: "\n") {
                let current = line.hasPrefix("*")
                let name = String(line.dropFirst(2))
                lines.append((current ? "● " : "• ") + "<code>\(TelegramHTML.escape(name))</code>")
                if !current, rows.count < 20, let button = await button("Switch to " + ToolActivity.shorten(name, to: 40), "git:branch:\(name)") {
                    rows.append([button])
                }
            }
            await reply("🌿 <b>Branches</b>\n" + lines.joined(separator: "\n") + "\n\n/branch name creates one.", markup: rows.isEmpty ? nil : InlineKeyboardMarkup(rows))
        } catch {
            await replyGitError(error)
        }
    }

    private func switchBranch(_ name: String) async {
        guard Self.isValidBranchName(name) else { return }
        do {
            try await git.run(["switch", "--", name], in: settings.project)
            await reply("🌿 Switched to <code>\(TelegramHTML.escape(name))</code>.")
        } catch {
            await replyGitError(error)
        }
    }

    static func isValidBranchName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && !name.hasPrefix("-") && !name.contains("..") && !name.hasSuffix(".lock")
            && name.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) }
    }

    // MARK: Shipping

    /// /commit without a message: Claude proposes one from the diff; a button commits with it.
    private func proposeCommitMessage() async {
        guard await isIdleOnceConcluded() else {
            await reply("Claude is still working. Commit when the run is over, or give a message: <code>/commit Fix the parser</code>.")
            return
        }
        let stat: String, patch: String
        do {
            try await addIntentToAdd()
            stat = try await git.run(["diff", "HEAD", "--stat=72"], in: settings.project)
            patch = try await git.run(["diff", "HEAD", "--no-ext-diff"], in: settings.project)
        } catch {
            await replyGitError(error)
            return
        }
        guard !stat.trimmingWhitespace().isEmpty else {
            await replyGitError(GitError(kind: .nothingToCommit, summary: "Nothing to commit: the working tree is clean", output: ""))
            return
        }
        Conversation.typing(in: key, context: context)
        let writer = CommitMessageWriter(configuration: context.settings.claude, logger: logger)
        switch await writer.message(project: settings.project, model: settings.model, stat: stat, patch: patch) {
        case .success(let message):
            let commit = await button("✅ Commit", "git:commit:" + message)
            await reply(
                "✍️ Commit message:\n<code>\(TelegramHTML.escape(message))</code>\n\nOr send <code>/commit your message</code>.",
                markup: commit.map { InlineKeyboardMarkup([[$0]]) })
        case .failure(let failure):
            await reply("Claude could not write a message (\(TelegramHTML.escape(failure.message))). Send <code>/commit your message</code>.")
        }
    }

    private func commit(message: String, sender: Sender, messageID: Int64? = nil) async {
        guard !message.isEmpty else {
            await proposeCommitMessage()
            return
        }
        await clearButtons(messageID)
        do {
            try await git.run(["add", "--all"], in: settings.project)
            let identity = await git.identityArguments(in: settings.project)
            try await git.run(identity + ["commit", "--no-verify", "-m", message], in: settings.project)
            let summary = try await git.run(["log", "-1", "--format=%h %s", "--shortstat"], in: settings.project)
            try? await context.audit.record(event: "git_commit", userID: sender.id, chatID: key.chatID, detail: settings.project)
            await reply("✅ Committed\n<pre>" + TelegramHTML.escape(summary.trimmingWhitespace()) + "</pre>")
            await removeStaleGitActions()
        } catch {
            await replyGitError(error)
        }
    }

    private func upstream() async -> (branch: String, remote: String)? {
        guard let branch = try? await git.run(["symbolic-ref", "--short", "HEAD"], in: settings.project).trimmingWhitespace(), !branch.isEmpty else {
            return nil
        }
        let remote = (try? await git.run(["config", "--get", "branch.\(branch).remote"], in: settings.project).trimmingWhitespace()) ?? ""
        return (branch, remote.isEmpty ? "origin" : remote)
    }

    private func confirmPush() async {
        guard let target = await upstream() else {
            await replyGitError(GitError(kind: .detachedHead, summary: "HEAD is detached: switch to a branch first (/branch)", output: ""))
            return
        }
        let push = await button("⬆️ Push \(ToolActivity.shorten(target.branch, to: 30)) → \(ToolActivity.shorten(target.remote, to: 20))", "git:push")
        let cancel = await button("Cancel", "git:dismiss")
        await reply(
            "Push <code>\(TelegramHTML.escape(target.branch))</code> to <code>\(TelegramHTML.escape(target.remote))</code>?",
            markup: InlineKeyboardMarkup([[push, cancel].compactMap { $0 }]))
    }

    private func push(sender: Sender, messageID: Int64?) async {
        await clearButtons(messageID)
        guard let target = await upstream() else { return }
        do {
            let output = try await git.execute(["push", "--porcelain", "--set-upstream", "--", target.remote, target.branch], in: settings.project, remote: true)
            guard output.status == 0 else {
                throw GitError.classify(arguments: ["push"], status: output.status, output: git.redact((output.standardError + "\n" + output.standardOutput).trimmingWhitespace()))
            }
            try? await context.audit.record(event: "git_push", userID: sender.id, chatID: key.chatID, detail: "\(target.remote) \(target.branch)")
            await reply("⬆️ Pushed <code>\(TelegramHTML.escape(target.branch))</code> to <code>\(TelegramHTML.escape(target.remote))</code>.")
        } catch let error as GitError {
            await replyGitError(error)
        } catch {}
    }

    /// Fast-forward only, unless asked (`/pull merge`) to merge diverged branches.
    private func pull(merge: Bool) async {
        do {
            let mode = merge ? ["--no-rebase", "--no-edit"] : ["--ff-only"]
            let identity = merge ? await git.identityArguments(in: settings.project) : []
            let output = try await git.run(identity + ["pull"] + mode, in: settings.project, remote: true)
            await reply("⬇️ Pulled.\n<pre>" + TelegramHTML.escape(ProgressRenderer.tail(output.trimmingWhitespace(), 1500)) + "</pre>")
        } catch {
            await replyGitError(error)
        }
    }

    private func stash(_ argument: String) async {
        do {
            if argument == "pop" {
                try await git.run(["stash", "pop"], in: settings.project)
                await reply("📦 Stashed changes restored.")
            } else {
                let output = try await git.run(["stash", "push", "--include-untracked"], in: settings.project)
                await reply(output.contains("No local changes") ? "Nothing to stash." : "📦 Changes stashed. /stash pop brings them back.")
            }
        } catch {
            await replyGitError(error)
        }
    }

    private func confirmUndo() async {
        guard let status = try? await git.run(["status", "--porcelain=v1"], in: settings.project) else {
            await replyGitError(GitError(kind: .notARepository, summary: "This folder is not a git repository", output: ""))
            return
        }
        let changes = status.split(separator: "\n")
        guard !changes.isEmpty else {
            await reply("✨ Nothing to undo: the working tree is clean.")
            return
        }
        let list = changes.prefix(20).map { TelegramHTML.escape(String($0)) }.joined(separator: "\n")
        let undo = await button("🗑 Discard all of it", "git:undo")
        let keep = await button("Keep", "git:dismiss")
        await reply(
            "This throws away every uncommitted change, new files included:\n<pre>\(list)\(changes.count > 20 ? "\n…" : "")</pre>",
            markup: InlineKeyboardMarkup([[undo, keep].compactMap { $0 }]))
    }

    private func undo(sender: Sender, messageID: Int64?) async {
        await clearButtons(messageID)
        guard await isIdleOnceConcluded() else {
            await reply("Claude is still working. /cancel first, then undo.")
            return
        }
        do {
            try await git.run(["reset", "--hard", "--quiet"], in: settings.project)
            try await git.run(["clean", "-fd", "--quiet"], in: settings.project)
            try? await context.audit.record(event: "git_undo", userID: sender.id, chatID: key.chatID, detail: settings.project)
            await reply("🗑 Uncommitted changes discarded.")
            await removeStaleGitActions()
        } catch {
            await replyGitError(error)
        }
    }
}
