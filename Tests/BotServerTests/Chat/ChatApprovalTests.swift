import ClaudeRunner
import Foundation
import Subprocess
import Testing
import TestSupport

@testable import BotServer

/// Approvals from the phone, through the real CLI: once, always, deny (button or reply),
/// timeouts, stale and foreign taps, parallel requests, questions and plans, restarts.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatApprovalTests {
    private static func write(_ path: String, _ content: String, text: String = "Writing.") -> JSONValue {
        ["text": .string(text), "tool_use": ["name": "Write", "input": ["file_path": .string(path), "content": .string(content)]]]
    }

    private static func questionMessages(_ harness: ChatHarness, chat: Int64 = ChatHarness.user) async throws -> [[String: Any]] {
        try await harness.bot.messages(chat: chat).filter { ($0["text"] as? String)?.contains("Claude wants to") == true }
    }

    @Test func alwaysAllowIsRememberedPerProjectListedAndRevocable() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/a.txt"
        try await harness.anthropic.script([Self.write(file, "one"), Self.write(file, "two"), ["text": "Both written."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Write a.txt twice")
            let question = try #require(try await harness.waitForMessage(containing: "Claude wants to write a.txt"))
            let always = try #require(ChatHarness.button("Always", in: question))
            try await harness.tap(always, on: ChatHarness.messageID(question))
            #expect(try await harness.waitForMessage(containing: "Both written.") != nil)
            #expect(try await Self.questionMessages(harness).count == 1, "the second Write was asked again")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "two")
            // A private chat's decision names nobody: there is only one person to decide.
            let decided = try #require(try await harness.waitForMessage(containing: "♾ Always allowed: Write in this project"))
            #expect((decided["text"] as? String)?.contains("by Ada") == false)

            try await harness.send("/permissions")
            let list = try #require(try await harness.waitForMessage(containing: "Tap one to revoke it"))
            #expect((list["text"] as? String)?.contains("Write in this project") == true)
            try await harness.tap(try #require(ChatHarness.button("Write", in: list)), on: ChatHarness.messageID(list))
            #expect(try await harness.waitForMessage(containing: "Rule removed") != nil)
            try await harness.send("/permissions")
            #expect(try await harness.waitForMessage(containing: "No always-allow rules") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        // Every decision is audited: who, which tool, a digest of the input, what was decided.
        let connection = try SQLiteConnection(path: harness.dataDirectory + "/bot.sqlite", mode: .readOnly)
        defer { connection.close() }
        let audit = try connection.prepare("SELECT user_id, detail FROM audit_log WHERE event = 'approval' ORDER BY id").query {
            ($0.optionalInt64(0), $0.string(1) ?? "")
        }
        #expect(audit.count == 2, "\(audit)")
        #expect(audit.first?.0 == ChatHarness.user && audit.first?.1.contains("tool=Write") == true && audit.first?.1.contains("decision=always") == true)
        #expect(audit.first?.1.contains("input_sha256=") == true)
        #expect(audit.last?.0 == nil && audit.last?.1.contains("decision=allow-rule:") == true)
    }

    /// The user sees the question (and taps) before Telegram's answer to its sendMessage has
    /// reached the bot: the decision still replaces the buttons. The fake holds that answer.
    @Test func aTapBeforeTheQuestionsSendHasReturnedStillShowsTheDecision() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/b.txt"
        try await harness.anthropic.script([Self.write(file, "one"), ["text": "Written."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Write b.txt")
            _ = try await harness.waitForCall("sendMessage")  // the progress message
            try await harness.bot.script(method: "sendMessage", times: 1, respond: ["delay": 2])
            let question = try #require(try await harness.waitForMessage(containing: "Claude wants to write b.txt"))
            try await harness.tap(try #require(ChatHarness.button("Allow once", in: question)), on: ChatHarness.messageID(question))
            #expect(try await harness.waitForMessage(containing: "Written.") != nil)
            let decided = try await harness.waitForMessage(containing: "✅ Allowed once")
            #expect(decided != nil)
            #expect(decided?["reply_markup"] == nil || decided?["reply_markup"] is NSNull, "no buttons left")
            // Decided: the hint about replying is gone, and a private chat names nobody.
            let text = decided?["text"] as? String ?? ""
            #expect(!text.contains("Reply to this message") && !text.contains("by Ada"), "\(text)")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "one")
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
    }

    @Test func aReplyDeniesWithItsTextAsTheReasonAndADoubleTapChangesNothing() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/secret.txt"
        try await harness.anthropic.script([Self.write(file, "x"), ["text": "Understood, not writing it."]])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Write secret.txt")
            let question = try #require(try await harness.waitForMessage(containing: "Claude wants to write secret.txt"))
            let allow = try #require(ChatHarness.button("Allow once", in: question))
            try await harness.replyTo(ChatHarness.messageID(question), text: "no, put it in notes.txt instead")
            #expect(try await harness.waitForMessage(containing: "Understood, not writing it.") != nil)
            let denied = try #require(try await harness.waitForMessage(containing: "❌ Denied: “no, put it in notes.txt instead”"))
            #expect((denied["text"] as? String)?.contains("Reply to this message") == false)
            // A late tap on the decided request: a short answer, nothing changes.
            try await harness.tap(allow, on: ChatHarness.messageID(question))
            let late = try await harness.waitForCall("answerCallbackQuery") { ($0.params["text"] as? String)?.contains("no longer waiting") == true }
            #expect(late != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(try await harness.anthropic.mainRequests().last?.description.contains("put it in notes.txt instead") == true)
    }

    @Test func anUnansweredRequestIsDeniedAfterTheTimeout() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/late.txt"
        try await harness.anthropic.script([Self.write(file, "x"), ["text": "Gave up."]])
        let (status, log) = try await harness.run(["APPROVAL_TIMEOUT": "5"]) { _ in
            try await harness.send("Write late.txt")
            #expect(try await harness.waitForMessage(containing: "Claude wants to") != nil)
            let expired = try #require(try await harness.waitForMessage(containing: "No answer in 5 s: denied", within: .seconds(20)))
            #expect(expired["reply_markup"] == nil || expired["reply_markup"] is NSNull)
            #expect(try await harness.waitForMessage(containing: "Gave up.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func inAGroupOnlyTheAskerOrAnAdminDecides() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let group: Int64 = -100_555
        let colleague: Int64 = 1004
        let file = harness.project + "/team.txt"
        try await harness.anthropic.script([Self.write(file, "x"), ["text": "Team file written."]])
        let (status, log) = try await harness.run(["ALLOWED_USER_IDS": "\(ChatHarness.user),\(colleague)"]) { _ in
            #expect(try await harness.waitForCall("getMe") != nil)
            try await harness.send("@fake_bot write team.txt", chat: group)
            let question = try #require(try await harness.waitForMessage(containing: "Claude wants to", chat: group))
            let allow = try #require(ChatHarness.button("Allow once", in: question))
            try await harness.tap(allow, on: ChatHarness.messageID(question), from: colleague, chat: group)
            #expect(try await harness.waitForCall("answerCallbackQuery") { ($0.params["text"] as? String)?.contains("Only the person who asked") == true } != nil)
            try await harness.tap(allow, on: ChatHarness.messageID(question), from: ChatHarness.stranger, chat: group)
            #expect(try await harness.waitForCall("answerCallbackQuery") { $0.params["show_alert"] as? Bool == true } != nil)
            #expect(!FileManager.default.fileExists(atPath: file))
            try await harness.tap(allow, on: ChatHarness.messageID(question), from: ChatHarness.admin, chat: group)
            #expect(try await harness.waitForMessage(containing: "Team file written.", chat: group) != nil)
            // In a group the others see who decided.
            #expect(try await harness.waitForMessage(containing: "✅ Allowed once by Ada", chat: group) != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(FileManager.default.fileExists(atPath: file))
    }

    /// WebFetch is read-only, so the CLI runs two of them at once and asks for both together.
    @Test func parallelRequestsAreAnsweredEachOnItsOwnInAnyOrder() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([
            ["text": "Fetching two pages.", "tool_uses": [
                ["name": "WebFetch", "input": ["url": "http://127.0.0.1:9/first-page", "prompt": "summarise"]],
                ["name": "WebFetch", "input": ["url": "http://127.0.0.1:9/second-page", "prompt": "summarise"]],
            ]],
            ["text": "Fetched what I could."],
        ])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Fetch both")
            let askFirst = try #require(try await harness.waitForMessage(containing: "Claude wants to fetch http://127.0.0.1:9/first-page"))
            let askSecond = try #require(try await harness.waitForMessage(containing: "Claude wants to fetch http://127.0.0.1:9/second-page"))
            // Both are open at once; the second is answered first.
            try await harness.tap(try #require(ChatHarness.button("Deny", in: askSecond)), on: ChatHarness.messageID(askSecond))
            #expect(try await harness.waitForMessage(containing: "❌ Denied") != nil)
            let stillOpen = try await harness.waitForMessage(containing: "Claude wants to fetch http://127.0.0.1:9/first-page")
            #expect(ChatHarness.button("Allow once", in: stillOpen) != nil)
            try await harness.tap(try #require(ChatHarness.button("Allow once", in: askFirst)), on: ChatHarness.messageID(askFirst))
            #expect(try await harness.waitForMessage(containing: "Fetched what I could.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let denial = try await harness.anthropic.mainRequests().last?.description ?? ""
        #expect(denial.contains("denied this from Telegram"))
    }

    @Test func questionsBecomeButtonsSingleAndMultipleChoice() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let questions: JSONValue = ["questions": [
            ["question": "Which color?", "header": "Color", "multiSelect": false, "options": [["label": "Red", "description": "Warm"], ["label": "Blue", "description": "Cool"]]],
            ["question": "Which sizes?", "header": "Size", "multiSelect": true, "options": [["label": "S", "description": "Small"], ["label": "M", "description": "Medium"], ["label": "L", "description": "Large"]]],
        ]]
        try await harness.anthropic.script([
            ["text": "Let me ask.", "tool_use": ["name": "AskUserQuestion", "input": questions]], ["text": "Noted your choices."],
        ])
        let (status, log) = try await harness.run { _ in
            try await harness.send("Ask me")
            let asked = try await harness.waitForMessage(containing: "Claude asks", within: .seconds(15))
            let failed = try await harness.bot.calls().filter { !$0.ok }.map { "\($0.method) \($0.status) \($0.params)" }
            let texts = try await harness.bot.messages(chat: ChatHarness.user).map { $0["text"] as? String ?? "" }
            var message = try #require(asked, "\(failed) \(texts)")
            let id = ChatHarness.messageID(message)
            try await harness.tap(try #require(ChatHarness.button("Blue", in: message)), on: id)
            try await harness.tap(try #require(ChatHarness.button("S", in: message)), on: id)
            message = try #require(try await harness.waitForMessage(containing: "✓ S"))
            try await harness.tap(try #require(ChatHarness.button("L", in: message)), on: id)
            message = try #require(try await harness.waitForMessage(containing: "✓ L"))
            try await harness.tap(try #require(ChatHarness.button("Done", in: message)), on: id)
            #expect(try await harness.waitForMessage(containing: "Noted your choices.") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        let last = try #require(try await harness.anthropic.mainRequests().last).description
        #expect(last.contains("Which color?") && last.contains("Blue") && last.contains("S, L"), "\(last.suffix(1500))")
    }

    @Test func aPlanIsApprovedIntoTheChosenModeOrSentBackToPlanning() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/plan.txt"
        try await harness.anthropic.script([
            ["text": "Here is my plan.", "tool_use": ["name": "ExitPlanMode", "input": ["plan": "1. Write **plan.txt**\n2. Done"]]],
            ["text": "Revised.", "tool_use": ["name": "ExitPlanMode", "input": ["plan": "1. Write plan.txt carefully"]]],
            Self.write(file, "planned"),
            ["text": "Plan carried out."],
        ])
        let (status, log) = try await harness.run { _ in
            try await harness.send("/mode plan")
            #expect(try await harness.waitForMessage(containing: "Mode is now plan") != nil)
            try await harness.send("Plan it")
            let plan = try #require(try await harness.waitForMessage(containing: "Claude has a plan"))
            #expect((plan["text"] as? String)?.contains("Write plan.txt") == true)
            try await harness.tap(try #require(ChatHarness.button("Keep planning", in: plan)), on: ChatHarness.messageID(plan))
            let revised = try #require(try await harness.waitForMessage(containing: "carefully"))
            try await harness.tap(try #require(ChatHarness.button("acceptEdits", in: revised)), on: ChatHarness.messageID(revised))
            #expect(try await harness.waitForMessage(containing: "Plan carried out.") != nil)
            try await harness.send("/status")
            #expect(try await harness.waitForMessage(containing: "Mode acceptEdits") != nil)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "planned")
        // acceptEdits after the plan: the Write was not asked.
        #expect(try await Self.questionMessages(harness).isEmpty)
        let requests = try await harness.anthropic.mainRequests()
        #expect(requests.contains { $0.description.contains("keep planning") })
    }

    @Test func aPendingRequestIsShownExpiredAfterARestart() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try await harness.anthropic.script([Self.write(harness.project + "/x.txt", "x")])
        let first = try await harness.run { execution in
            try await harness.send("Write x.txt")
            #expect(try await harness.waitForMessage(containing: "Claude wants to") != nil)
            // The question's row gets its message id only after Telegram answers the send; the
            // restart needs that id to mark the message expired, so kill the bot once it is stored.
            let stored = await eventually(within: .seconds(30)) {
                guard let connection = try? SQLiteConnection(path: harness.dataDirectory + "/bot.sqlite", mode: .readOnly) else {
                    return false
                }
                defer { connection.close() }
                let rows = try? connection.prepare(
                    "SELECT count(*) FROM approvals WHERE state = 'pending' AND message_id IS NOT NULL"
                ).queryFirst { $0.int64(0) }
                return (rows ?? 0) > 0
            }
            try #require(stored, "the pending question's row never got its message id")
            try execution.send(signal: .kill)
        }
        #expect(first.status == .signaled(SIGKILL))
        try await harness.run { _ in
            let expired = try await harness.waitForMessage(containing: "Expired: the bot restarted")
            #expect(expired != nil)
            #expect(expired?["reply_markup"] == nil || expired?["reply_markup"] is NSNull)
            #expect((expired?["text"] as? String)?.contains("Reply to this message") == false)
        }
    }
}
