/// What the chat layer sends for one answer of Claude's.
enum FormattedAnswer: Equatable, Sendable {
    /// Messages to send in order with parse_mode HTML; empty when the answer shows nothing.
    case messages([String])
    /// More than `maxMessages`: send `markdown` as a `.md` document with `preview` as its
    /// caption (HTML showing at most `previewLength` + 2 characters, at most 1,004 bytes as
    /// written: under the 1,024-character caption limit however it is counted).
    case document(preview: String, markdown: String)
}

/// Claude's Markdown answer → Telegram messages.
///
/// Design: render once (`TelegramHTML`), read the HTML back as Telegram will see it
/// (`StyledText`), cut that (`MessageSplitter`). The same reading gives the plain-text
/// fallback, so a plain chunk shows exactly the characters its HTML chunk would, and is
/// under the limit for the same reason. Cutting stops at `maxMessages + 1` chunks, which is
/// enough to know that the answer is a document.
struct AnswerFormatter: Sendable {
    /// More chunks than this and the answer goes out as a document.
    let maxMessages: Int
    let splitter: MessageSplitter
    /// Visible characters (UTF-16 units) of the document's preview.
    let previewLength: Int

    init(maxMessages: Int = 5, splitter: MessageSplitter = MessageSplitter(), previewLength: Int = 800) {
        self.maxMessages = max(1, maxMessages)
        self.splitter = splitter
        self.previewLength = previewLength
    }

    static func format(markdown: String) -> FormattedAnswer {
        AnswerFormatter().format(markdown: markdown)
    }

    func format(markdown: String) -> FormattedAnswer {
        let text = StyledText(html: TelegramHTML.render(markdown: markdown))
        let chunks = splitter.ranges(of: text, markup: .html, maxChunks: maxMessages == .max ? .max : maxMessages + 1)
        guard chunks.count > maxMessages else { return .messages(chunks.map(text.html)) }
        // Bounded as written too, so that it passes wherever a caption's raw HTML is counted.
        let previewSplitter = MessageSplitter(maxLength: previewLength, maxBytes: 1_000)
        let preview = previewSplitter.ranges(of: text, markup: .html, maxChunks: 1).first.map(text.html) ?? ""
        return .document(preview: preview + "\n…", markdown: markdown)
    }

    /// The answer without formatting, split for sending without parse_mode.
    func plainMessages(markdown: String) -> [String] {
        splitter.split(plain: Self.plainText(html: TelegramHTML.render(markdown: markdown)))
    }

    /// One message without its formatting (tags removed, entities decoded): the fallback
    /// when Telegram refuses a chunk's HTML. It is exactly as long as Telegram counts the
    /// chunk, so it fits wherever the chunk did.
    static func plainText(html: String) -> String {
        TelegramHTML.visibleText(html)
    }
}
