/// Bringing repositories into the workspace: /clone (network remotes only, with git's
/// progress in a message) and /init (a new repository with an initial commit).
extension Conversation {
    func clone(_ arguments: String, sender: Sender) async {
        let parts = arguments.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let url: String
        switch GitURL.validate(parts.first ?? "") {
        case .success(let valid): url = valid
        case .failure(let error):
            await reply("🚫 " + TelegramHTML.escape(error.summary) + ".")
            return
        }
        let name = parts.count > 1 ? parts[1] : GitURL.defaultName(url)
        guard GitURL.isValidFolderName(name) else {
            await reply("🚫 “\(TelegramHTML.escape(name))” is not a folder name I will create (letters, digits, . _ -).")
            return
        }
        guard await isIdleOnceConcluded() else {
            await reply("Claude is still working. /cancel first, then clone.")
            return
        }
        guard let target = await newFolder(name) else { return }
        let heading = "⬇️ Cloning into <code>\(TelegramHTML.escape(name))</code>"
        let status = try? await context.outbox.send(SendMessage(
            chatID: key.chatID, messageThreadID: key.threadID, text: heading + "…", parseMode: .html))
        // git's progress, at a modest pace (the outbox coalesces edits of one message anyway).
        let outbox = context.outbox, chatID = key.chatID
        let editor = status.map { message in
            Throttled<String>(interval: .seconds(3)) { line in
                _ = try? await outbox.edit(EditMessageText(
                    chatID: chatID, messageID: message.messageID, text: heading + "\n<code>" + TelegramHTML.escape(line) + "</code>",
                    parseMode: .html))
            }
        }
        do {
            var cloning = git
            cloning.timeout = .seconds(600)
            try await cloning.runReportingProgress(
                ["clone", "--progress", "--", url, target], in: context.settings.workspaceRoot, remote: true
            ) { line in
                if line.contains("%") { await editor?.offer(line) }
            }
            await editor?.close(with: "done")
            try? await context.audit.record(event: "git_clone", userID: sender.id, chatID: key.chatID, detail: name)
            await changeDirectory(name, fromRoot: true)
        } catch {
            await editor?.close(with: nil)
            await replyGitError(error)
        }
    }

    func initRepository(_ name: String) async {
        guard GitURL.isValidFolderName(name) else {
            await reply("Give the new repository a folder name: <code>/init my-app</code>.")
            return
        }
        guard let target = await newFolder(name) else { return }
        do {
            try await git.run(["init", "--quiet", "--initial-branch=main", "--", target], in: context.settings.workspaceRoot)
            let identity = await git.identityArguments(in: target)
            try await git.run(identity + ["commit", "--allow-empty", "--quiet", "-m", "Initial commit"], in: target)
            await changeDirectory(name, fromRoot: true)
        } catch {
            await replyGitError(error)
        }
    }

    /// The workspace folder a new repository goes to; nil (and the user told) when it exists.
    private func newFolder(_ name: String) async -> String? {
        let target = context.settings.workspaceRoot + "/" + name
        guard !WorkspacePath.isDirectory(target) else {
            await reply("🚫 <code>\(TelegramHTML.escape(name))</code> already exists in the workspace.")
            return nil
        }
        return target
    }
}
