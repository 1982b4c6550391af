import ClaudeRunner
import Foundation
import Testing
import TestSupport

@testable import BotServer

/// The bad paths a user meets: Claude not logged in, no CLI, answers too long or refused by
/// Telegram's parser, a session the CLI lost, groups, and more runs than slots.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatFailureTests {
    @Test func anAPIKeyThatIsRefusedIsReportedAsNotLoggedIn() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["error": ["status": 401]]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Hello?")
            let report = try #require(try await harness.waitForMessage(containing: "not logged in"))
            #expect(ChatHarness.button("Try again", in: report) == nil)  // trying again cannot help
            #expect(try await harness.waitForMessage(containing: "Failed") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func aRunThatGoesQuietGetsAStillWorkingNoteWithCancel() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["hang": true]])
        let (status, log) = try await harness.run(["SILENCE_NOTICE_SECONDS": "5"]) { _ in
            try await harness.send("Think hard")
            let note = try #require(try await harness.waitForMessage(containing: "Still working, but no output for", within: .seconds(20)))
            let cancel = try #require(ChatHarness.button("Cancel", in: note))
            try await harness.tap(cancel, on: ChatHarness.messageID(note))
            #expect(try await harness.waitForMessage(containing: "Cancelled") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    /// The prompt goes to Claude while its run row commits. When the database refuses the
    /// row, the prompt is withdrawn (Claude stopped, no answer), the user is told, and the
    /// slot is free again: with one slot, the next prompt runs.
    @Test func aRunTheDatabaseRefusesToRecordIsWithdrawnAndTheUserTold() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        // The same answer for either turn: the withdrawn prompt may or may not have reached the
        // API before its CLI was stopped (and so the next prompt is turn 0 or 1). Shown before
        // the second prompt, it would be the withdrawn prompt's.
        try await harness.anthropic.script([["text": "Recorded and answered."], ["text": "Recorded and answered."]])
        let database = harness.dataDirectory + "/bot.sqlite"
        let (status, log) = try await harness.run(["MAX_CONCURRENT_RUNS": "1"]) { _ in
            let connection = try SQLiteConnection(path: database, mode: .readWrite)
            defer { connection.close() }
            try connection.execute(
                "CREATE TRIGGER refuse_runs BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'no room left on the disk'); END")
            try await harness.send("Hello?")
            let report = try #require(try await harness.waitForMessage(containing: "could not record the run"))
            #expect((report["text"] as? String)?.contains("no room left on the disk") == true)
            #expect(try await harness.waitForMessage(containing: "answered.", within: .seconds(3)) == nil)

            try connection.execute("DROP TRIGGER refuse_runs")
            try await harness.send("And now?")
            // (Claude may have written the withdrawn prompt's session already: it is resumed.)
            #expect(try await harness.waitForMessage(containing: "answered.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let connection = try SQLiteConnection(path: database, mode: .readOnly)
        defer { connection.close() }
        let prompts = try connection.prepare("SELECT prompt FROM runs ORDER BY id").query { $0.string(0) ?? "" }
        #expect(prompts == ["And now?"])
    }

    @Test func aMissingCLIIsReportedWithTheSettingToFix() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let (status, log) = try await harness.run(["CLAUDE_BIN": "/nonexistent/claude"]) { _ in
            try await harness.send("Hello?")
            #expect(try await harness.waitForMessage(containing: "CLAUDE_BIN") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func aLongAnswerGoesAsADocumentWithAPreview() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let paragraph = String(repeating: "All work and no play makes Claude a dull bot. ", count: 20)
        let answer = (1...12).map { "## Part \($0)\n\n\(paragraph)" }.joined(separator: "\n\n")
        try await harness.anthropic.script([["text": .string(answer)]])
        let (status, log) = try await harness.run(["ANSWER_MAX_MESSAGES": "2"]) { _ in
            try await harness.send("Write a lot")
            let document = try #require(try await harness.waitForCall("sendDocument"))
            let file = document.files["document"] as? [String: Any]
            #expect(file?["filename"] as? String == "answer.md")
            #expect((document.params["caption"] as? String)?.contains("<b>Part 1</b>") == true)
            #expect(try await harness.waitForMessage(containing: "whole answer is in the file") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func anAnswerTelegramCannotParseGoesOutAsPlainText() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/a.txt"
        try await harness.anthropic.script([
            ["text": "Writing.", "tool_use": ["name": "Write", "input": ["file_path": .string(file), "content": "a"]]],
            ["text": "The **answer** is here."],
        ])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Write a.txt")
            let question = try #require(try await harness.waitForMessage(containing: "Claude wants to"))
            // The next message sent is the answer: Telegram refuses its HTML once.
            try await harness.bot.script(method: "sendMessage", times: 1, respond: [
                "status": 400, "description": "Bad Request: can't parse entities: Unsupported start tag \"b\" at byte offset 4",
            ])
            try await harness.tap(try #require(ChatHarness.button("Allow", in: question)), on: ChatHarness.messageID(question))
            let plain = try #require(try await harness.waitForMessage(containing: "The answer is here."))
            #expect(plain["parse_mode"] is NSNull || plain["parse_mode"] == nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func aSessionTheCLINoLongerHasStartsFreshAndSaysSo() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([["text": "First."], ["text": "Second."]])
        try await harness.run { _ in
            try await harness.send("One")
            #expect(try await harness.waitForMessage(containing: "First.") != nil)
        }
        // The transcripts are gone (a new machine, a cleaned HOME): the session cannot be resumed.
        try FileManager.default.removeItem(atPath: harness.directory.path + "/home/.claude/projects")
        try await harness.anthropic.script([["text": "Fresh answer."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Two")
            #expect(try await harness.waitForMessage(containing: "could not be resumed") != nil)
            #expect(try await harness.waitForMessage(containing: "Fresh answer.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func inAGroupOnlyCommandsMentionsAndRepliesAreTaken() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let group: Int64 = -100_777
        try await harness.anthropic.script([["text": "Hello, team."]])
        let (status, log) = try await harness.run { _ in
            #expect(try await harness.waitForCall("getMe") != nil)
            try await harness.send("just chatting among ourselves", chat: group)
            try await harness.send("/pwd", chat: group)
            #expect(try await harness.waitForMessage(containing: "📁 app", chat: group) != nil)
            #expect(try await harness.anthropic.mainRequests().isEmpty)
            try await harness.send("@fake_bot say hello", chat: group)
            #expect(try await harness.waitForMessage(containing: "Hello, team.", chat: group) != nil)
            // A stranger in the group is refused like anywhere else.
            try await harness.send("/status", from: ChatHarness.stranger, chat: group)
            #expect(try await harness.waitForMessage(containing: "this bot is private", chat: group) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let requests = try await harness.anthropic.mainRequests()
        #expect(requests.count == 1)
        #expect(requests.first.map { $0.description.contains("say hello") && !$0.description.contains("@fake_bot") } == true)
    }

    @Test func runsBeyondTheCapWaitWithANotice() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([
            ["text": "Waiting.", "tool_use": ["name": "Bash", "input": ["command": "python3 -c 'import time; time.sleep(2)'"]]],
            ["text": "Answer."],
        ])
        let (status, log) = try await harness.run(["MAX_CONCURRENT_RUNS": "1"]) { _ in
            try await harness.send("First", from: ChatHarness.user)
            try await harness.approve("run:\npython3", chat: ChatHarness.user)
            try await harness.send("Second", from: ChatHarness.admin)
            #expect(try await harness.waitForMessage(containing: "Claude is busy in other chats", chat: ChatHarness.admin) != nil)
            try await harness.approve("run:\npython3", chat: ChatHarness.admin)
            #expect(try await harness.waitForMessage(containing: "Answer.", chat: ChatHarness.admin) != nil)
            #expect(try await harness.waitForMessage(containing: "Answer.", chat: ChatHarness.user) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }
}
