import Foundation
import Testing
import TestSupport

@testable import BotServer

/// Commands, access control and workspace confinement, through the real bot process.
/// None of these should ever start Claude.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatCommandTests {
    @Test func commandsAnswerAndPathsNeverLeaveTheWorkspace() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        try FileManager.default.createSymbolicLink(atPath: harness.project + "/escape", withDestinationPath: "/tmp")
        try "x".write(toFile: harness.project + "/README.md", atomically: true, encoding: .utf8)
        let (status, log) = try await harness.run { _ in
            // The menu is published at start.
            let menu = try #require(try await harness.waitForCall("setMyCommands"))
            let names = (menu.params["commands"] as? [[String: Any]] ?? []).compactMap { $0["command"] as? String }
            #expect(Set(names).isSuperset(of: ["new", "status", "cancel", "sessions", "resume", "projects", "cd", "mode", "cost"]))

            try await harness.send("/pwd")
            #expect(try await harness.waitForMessage(containing: "📁 app") != nil)
            // The welcome names the project in words, not as code.
            try await harness.send("/start")
            let welcome = try #require(try await harness.waitForMessage(containing: "Claude Code, from your phone"))
            #expect((welcome["text"] as? String)?.contains("Claude works in “app”") == true, "\(welcome)")
            #expect((welcome["raw_text"] as? String)?.contains("<code>") == false, "\(welcome)")
            for (path, refusal) in [
                ("..", "“..” is not allowed"), ("/etc", "Absolute paths are not allowed"), ("escape", "leads outside the workspace"),
                ("../other", "“..” is not allowed"), ("missing", "There is no folder"), ("README.md", "is a file"),
            ] {
                try await harness.send("/cd \(path)")
                #expect(try await harness.waitForMessage(containing: refusal, within: .seconds(10)) != nil, "/cd \(path)")
            }
            try await harness.send("/ls")
            let listing = try await harness.waitForMessage(containing: "README.md")
            #expect((listing?["text"] as? String)?.contains("escape/") == false)  // a link out is not a folder here

            try await harness.send("/projects")
            let picker = try await harness.waitForMessage(containing: "Projects")
            let other = try #require(ChatHarness.button("other", in: picker))
            #expect(other.utf8.count <= 64)
            try await harness.tap(other, on: ChatHarness.messageID(picker))
            #expect(try await harness.waitForMessage(containing: "Now in other") != nil)
            // Picked: the picker's buttons are gone.
            #expect(await eventually(within: .seconds(10)) {
                let shown = try? await harness.bot.messages(chat: ChatHarness.user).first { ChatHarness.messageID($0) == ChatHarness.messageID(picker) }
                return shown != nil && ChatHarness.button("other", in: shown) == nil
            })

            try await harness.send("/mode bypassPermissions")
            #expect(try await harness.waitForMessage(containing: "only admins") != nil)
            try await harness.send("/mode acceptEdits")
            #expect(try await harness.waitForMessage(containing: "Mode is now acceptEdits") != nil)
            try await harness.send("/status")
            let statusMessage = try #require(try await harness.waitForMessage(containing: "Idle"))
            let statusText = statusMessage["text"] as? String ?? ""
            #expect(statusText.contains("other") && statusText.contains("acceptEdits"))
            #expect(statusText.contains("Model default"), "\(statusText)")
            // How busy the bot is across chats is for admins only.
            #expect(!statusText.contains("Claude runs busy"), "\(statusText)")
            try await harness.send("/status", from: ChatHarness.admin)
            let adminStatus = try await harness.waitForMessage(containing: "Idle", chat: ChatHarness.admin)
            #expect((adminStatus?["text"] as? String)?.contains("0 of 3 Claude runs busy") == true, "\(adminStatus ?? [:])")

            try await harness.send("/frobnicate")
            #expect(try await harness.waitForMessage(containing: "I don't know /frobnicate") != nil)
            try await harness.send("/help")
            let help = try #require(try await harness.waitForMessage(containing: "/new fresh session"))
            let helpHTML = help["raw_text"] as? String ?? ""
            let headings = ["<b>Conversation</b>", "<b>Project</b>", "<b>Git</b>", "<b>Settings</b>"].compactMap { helpHTML.range(of: $0)?.lowerBound }
            #expect(headings.count == 4 && headings == headings.sorted(), "\(helpHTML)")
            #expect(helpHTML.split(separator: "\n").count <= 14, "\(helpHTML)")

            // Addressed to another bot: ignored. Addressed to this one: answered.
            let before = try await harness.bot.calls(method: "sendMessage").count
            try await harness.send("/cost@some_other_bot")
            try await harness.send("/cost@fake_bot")
            #expect(try await harness.waitForMessage(containing: "Last 7 days") != nil)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await harness.bot.calls(method: "sendMessage").count == before + 1)

            // A settings change survives a restart: it is in SQLite.
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        try await harness.run { _ in
            try await harness.send("/pwd")
            #expect(try await harness.waitForMessage(containing: "📁 other") != nil)
        }
        #expect(try await harness.anthropic.mainRequests().isEmpty)
    }

    @Test func aStrangerIsRefusedOnceAndNothingRuns() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let stranger = ChatHarness.stranger
        let (status, log) = try await harness.run { _ in
            try await harness.send("rm -rf everything please", from: stranger)
            try await harness.send("/new", from: stranger)
            try await harness.send("/status", from: stranger)
            let refusal = try #require(try await harness.waitForMessage(containing: "this bot is private", chat: stranger))
            // Their id, to pass on to the owner; not how the owner configures the bot.
            let refusalText = refusal["text"] as? String ?? ""
            #expect(refusalText.contains("\(stranger)") && !refusalText.contains("ALLOWED_USER_IDS"), "\(refusalText)")
            try await harness.tap("c:whatever", on: 1, from: stranger)
            let alert = try await harness.waitForCall("answerCallbackQuery")
            #expect(alert?.params["show_alert"] as? Bool == true)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await harness.bot.messages(chat: stranger).count == 1)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(log.contains("refused an unknown user"))
        #expect(try await harness.anthropic.mainRequests().isEmpty)
        let connection = try SQLiteConnection(path: harness.dataDirectory + "/bot.sqlite", mode: .readOnly)
        defer { connection.close() }
        let refused = try connection.prepare("SELECT COUNT(*) FROM audit_log WHERE event = 'refused' AND user_id = ?")
            .queryFirst(stranger) { $0.int(0) }
        #expect(refused == 4)
    }
}
