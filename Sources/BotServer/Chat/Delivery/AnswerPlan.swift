/// Claude's answer as the stored parts that deliver it (OutgoingPart), so that it can be
/// stored before it is sent:
///
/// - a short answer (one message, with room for the footer) replaces the progress message:
///   one message per prompt, ending in the answer, its footer and its buttons;
/// - a longer one turns the progress message into the end-of-run card and follows it as
///   messages, the buttons under the last;
/// - one longer than `maxMessages` goes as a `.md` document with a preview.
struct AnswerPlan: Sendable {
    let formatter: AnswerFormatter
    /// Visible characters a message may hold; the footer must fit beside a short answer.
    var messageLimit = 4096

    /// `card` is the end-of-run summary (HTML) for when the answer needs messages of its own;
    /// `footer` the one-line summary (HTML) that goes under a short answer.
    func parts(
        markdown: String, progressMessageID: Int64?, card: String, footer: String, note: String?, buttons: InlineKeyboardMarkup?
    ) -> [OutgoingPart] {
        let lead = note.map { "ℹ️ " + TelegramHTML.escape($0) + "\n\n" } ?? ""
        switch formatter.format(markdown: markdown) {
        case .messages(let chunks) where chunks.count <= 1:
            let body = chunks.first ?? "<i>(Claude gave no text answer.)</i>"
            let html = lead + body + "\n\n" + footer
            if TelegramHTML.visibleText(html).utf16.count <= messageLimit {
                return [.text(html: html, replaces: progressMessageID, buttons: buttons)]
            }
            return [.text(html: lead + card, replaces: progressMessageID), .text(html: body, buttons: buttons)]
        case .messages(let chunks):
            var parts: [OutgoingPart] = [.text(html: lead + card, replaces: progressMessageID)]
            for (index, chunk) in chunks.enumerated() {
                parts.append(.text(html: chunk, buttons: index == chunks.count - 1 ? buttons : nil))
            }
            return parts
        case .document(let preview, let markdown):
            var parts: [OutgoingPart] = [.text(html: lead + card, replaces: progressMessageID), .document(markdown: markdown, caption: preview)]
            if let buttons { parts.append(.text(html: "The whole answer is in the file above.", buttons: buttons)) }
            return parts
        }
    }
}
