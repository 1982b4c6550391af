import Foundation
import Testing

@testable import BotServer

@Suite struct UpdateEnvelopeTests {
    private func envelope(_ name: String) throws -> UpdateEnvelope {
        guard case .update(let envelope) = UpdateClassification(body: try Fixtures.update(name)) else {
            Issue.record("\(name) was not classified as an update")
            throw CancellationError()
        }
        return envelope
    }

    @Test func everyRealSampleIsAnUpdateWithAConversation() throws {
        let names = try Fixtures.allUpdateNames()
        #expect(names.count >= 38)
        for name in names {
            let envelope = try envelope(name)
            #expect(envelope.conversation != nil, "\(name)")
            #expect(envelope.kind != "unknown", "\(name)")
        }
    }

    /// The hand-written edge cases (not real samples) read as updates too.
    @Test func everySyntheticSampleIsAnUpdateWithAConversation() throws {
        let names = try Fixtures.syntheticUpdateNames()
        #expect(names.count >= 2)
        for name in names {
            let envelope = try envelope(name)
            #expect(envelope.conversation != nil, "\(name)")
            #expect(envelope.kind != "unknown", "\(name)")
        }
    }

    @Test func aForumTopicIsItsOwnConversation() throws {
        let envelope = try envelope("forum_topic_message_supergroup_2026")
        #expect(envelope.updateID == 87_140_467)
        #expect(envelope.kind == "message")
        #expect(envelope.conversation == ConversationKey(chatID: -1_003_424_252_989, threadID: 28))
    }

    @Test func aReplyThreadOutsideAForumIsNotATopic() throws {
        // These messages carry message_thread_id but not is_topic_message.
        for name in ["command_report_supergroup_reply_to_story_thread", "reply_to_bot_in_supergroup_thread_utf16_offsets"] {
            #expect(try envelope(name).conversation?.threadID == nil, "\(name)")
        }
    }

    @Test func aCallbackQueryBelongsToTheChatOfItsMessage() throws {
        let envelope = try envelope("callback_query_group_multiline_text")
        #expect(envelope.kind == "callback_query")
        #expect(envelope.conversation == ConversationKey(chatID: -460_508_819, threadID: nil))
    }

    /// A tap comes with its message's keyboard: the bot can drop the tapped row and keep the rest.
    @Test func aCallbackQueryCarriesItsMessagesKeyboard() throws {
        let update = try JSONDecoder().decode(Update.self, from: Data(try Fixtures.update("callback_query_inline_keyboard_emoji_name")))
        let query = try #require(update.callbackQuery)
        let keyboard = try #require(query.message?.replyMarkup?.markup)
        #expect(keyboard.inlineKeyboard.map { $0.map(\.text) } == [["My bills"], ["Create Bill"], ["Transfer"]])
        #expect(keyboard.removingRow(with: "/get/bills")?.inlineKeyboard.map { $0.map(\.text) } == [["Create Bill"], ["Transfer"]])
        #expect(InlineKeyboardMarkup([[.callback("a", data: "x")]]).removingRow(with: "x") == nil)
        // A keyboard the bot cannot read leaves the update readable.
        let odd = #"{"update_id":1,"callback_query":{"id":"q","from":{"id":1,"is_bot":false,"first_name":"A"},"data":"d","message":{"message_id":2,"date":0,"chat":{"id":1,"type":"private"},"reply_markup":{"inline_keyboard":"?"}}}}"#
        let decoded = try JSONDecoder().decode(Update.self, from: Data(odd.utf8))
        #expect(decoded.callbackQuery?.message?.messageID == 2 && decoded.callbackQuery?.message?.replyMarkup?.markup == nil)
    }

    @Test func otherKindsFindTheirChat() throws {
        #expect(try envelope("my_chat_member_private_blocked").conversation?.chatID == 5_386_965_721)
        #expect(try envelope("message_reaction_emoji_added").conversation?.chatID == -1_002_184_233_434)
        #expect(try envelope("stopped_message_generation_draft_id_string").conversation?.chatID == 811_091_354)
        #expect(try envelope("channel_post_sender_chat_2024").kind == "channel_post")
    }

    @Test func unknownFieldsAndKindsAreIgnored() throws {
        let body = Array(#"{"update_id":7,"future_kind":{"chat":{"id":5},"novel":true},"extra":[1,2]}"#.utf8)
        guard case .update(let envelope) = UpdateClassification(body: body) else {
            Issue.record("not an update")
            return
        }
        #expect(envelope.updateID == 7)
        #expect(envelope.conversation == ConversationKey(chatID: 5, threadID: nil))
    }

    @Test(arguments: [#"{"message":{}}"#, #"[1,2]"#, #"{"update_id":"12"}"#, #"{"update_id":null}"#, #"{"update_id":1.5}"#, "42"])
    func jsonThatIsNotAnUpdateIsRejected(_ body: String) {
        guard case .notAnUpdate = UpdateClassification(body: Array(body.utf8)) else {
            Issue.record("\(body) should be valid JSON but not an update")
            return
        }
    }

    @Test(arguments: ["", "not json", #"{"update_id":1"#, "\u{FF}"])
    func aBodyThatIsNotJSONIsMalformed(_ body: String) {
        guard case .malformed = UpdateClassification(body: Array(body.utf8)) else {
            Issue.record("\(body) should be malformed")
            return
        }
    }
}
