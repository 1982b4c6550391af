import ClaudeRunner
import Foundation
import Testing
import TestSupport

/// A user's prompt through the real parts: webhook → conversation → real `claude` →
/// fake Anthropic API, and back through the fake Bot API.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatEndToEndTests {
    @Test func aPromptIsAcknowledgedApprovedShownLiveAndAnswered() async throws {
        let harness = try await ChatHarness.start()
        defer { harness.stop() }
        let file = harness.project + "/hello.txt"
        try await harness.anthropic.script([
            ["text": "I'll create the file.", "tool_use": ["name": "Write", "input": ["file_path": .string(file), "content": "hi\n"]]],
            ["text": "Done: **hello.txt** now says `hi`.\n\n```swift\nlet x = 1 < 2\n```"],
        ])
        let (status, log) = try await harness.run { _ in
            let prompt = try await harness.send("Create hello.txt saying hi")

            // Taken at once: typing and 👀, issued on arrival. They travel beside the progress
            // message (the prompt no longer waits long enough for them to be sure to arrive
            // first, and typing that lands after it stays visible longer), but before anything
            // Claude had to answer for.
            let typing = try await harness.waitForCall("sendChatAction")
            #expect(typing?.params["action"] as? String == "typing")
            let reaction = try await harness.waitForCall("setMessageReaction")
            #expect((reaction?.params["message_id"] as? NSNumber)?.int64Value == prompt)
            let askedFirst = try await harness.waitForCall("sendMessage") {
                ($0.params["text"] as? String)?.contains("Claude wants to") == true
            }
            #expect((typing?.seq ?? .max) < (askedFirst?.seq ?? 0))
            #expect((reaction?.seq ?? .max) < (askedFirst?.seq ?? 0))

            // Write needs approval in the default mode: a question with buttons, answered by a tap.
            let question = try await harness.waitForMessage(containing: "Claude wants to write hello.txt")
            let allow = try #require(ChatHarness.button("Allow", in: question))
            #expect(!FileManager.default.fileExists(atPath: file))
            // While the question waits, the progress message shows the tool (a progress edit
            // waits for a free slot of the chat's budget, so not at once).
            #expect(try await harness.waitForCall("editMessageText") { ($0.text ?? "").contains("Writing hello.txt") } != nil)
            try await harness.tap(allow, on: ChatHarness.messageID(question))
            #expect(try await harness.waitForCall("answerCallbackQuery") != nil)

            let answer = try #require(try await harness.waitForMessage(containing: "now says"))
            #expect(answer["parse_mode"] as? String == "HTML")
            #expect((answer["raw_text"] as? String)?.contains("<b>hello.txt</b>") == true)
            #expect((answer["raw_text"] as? String)?.contains("<pre><code class=\"language-swift\">let x = 1 &lt; 2</code></pre>") == true)
            #expect(ChatHarness.button("Continue", in: answer) != nil)
            #expect(ChatHarness.button("New session", in: answer) != nil)

            // A short answer is the run's one message: with its footer, and without the
            // progress message (it showed the run, then made way for the answer).
            #expect((answer["raw_text"] as? String)?.contains("<i>✅ ") == true)
            #expect((answer["text"] as? String)?.contains("1 file changed") == true)
            #expect(await eventually {
                let messages = (try? await harness.bot.messages(chat: ChatHarness.user)) ?? []
                return !messages.contains { ChatHarness.button("Cancel", in: $0) != nil }
            }, "no progress message is left with its Cancel button")
            let showingAnswer = try await harness.bot.messages(chat: ChatHarness.user).filter { ($0["text"] as? String)?.contains("now says") == true }
            #expect(showingAnswer.count == 1)
            // The 👀 on the prompt became 👍.
            #expect(await eventually {
                let reactions = (try? await harness.bot.reactions(chat: ChatHarness.user)) ?? [:]
                let onPrompt = reactions["\(prompt)"] as? [[String: Any]] ?? []
                return onPrompt.first?["emoji"] as? String == "👍"
            })
            // How to go on in a terminal is in /status, not under every answer.
            #expect(!(answer["text"] as? String ?? "").contains("claude --resume"))
            try await harness.send("/status")
            #expect(try await harness.waitForMessage(containing: "claude --resume ") != nil)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "hi\n")
            // Private chat: the partial answer streamed as a draft (with the stop button), and
            // every draft shows text Claude had written so far in one of its turns.
            let drafts = try await harness.bot.calls(method: "sendMessageDraft").filter(\.ok)
            #expect(!drafts.isEmpty)
            #expect(drafts.allSatisfy { $0.params["can_stop"] as? Bool == true })
            #expect(drafts.allSatisfy { $0.params["parse_mode"] as? String == "HTML" })
            for draft in drafts {
                let text = draft.text ?? ""
                #expect(text.hasPrefix("I'll") || text.hasPrefix("Done: <b>hello.txt</b>") || text.hasPrefix("Done"), "draft \(text)")
            }

            // What the bot measured of it, at GET /metrics (answered to a loopback peer).
            let scrape = try await RawHTTPClient.request(port: harness.port, path: "/metrics")
            #expect(scrape.status == 200)
            let metrics = PrometheusSamples(scrape.bodyText)
            #expect(metrics["botserver_update_to_typing_seconds_count"] == 1)
            // The chat's first prompt: it waited for the CLI to be spawned, and is timed apart.
            #expect(metrics.total("botserver_update_to_prompt_written_seconds_count") == 1)
            #expect(metrics.total("botserver_update_to_prompt_written_seconds_count", ["process": "started"]) == 1)
            #expect(metrics.total("botserver_update_to_prompt_written_seconds_sum", ["process": "started"]) > 0)
            #expect(metrics.total("botserver_runs_finished_total", ["outcome": "completed"]) == 1)
            // The prompt, the tap on Allow and /status.
            #expect(metrics.total("botserver_webhook_requests_total", ["result": "stored"]) == 3)
            #expect(metrics.total("botserver_telegram_requests_total", ["method": "sendChatAction", "result": "ok"]) >= 1)
            #expect(metrics.total("botserver_telegram_requests_total", ["method": "sendMessage", "result": "ok"]) >= 2)
        }
        #expect(status == .exited(0), "\(log.suffix(3000))")
        #expect(!log.contains("TELEGRAM_BOT_TOKEN") && !log.contains(BotProcess.token))
    }
}
