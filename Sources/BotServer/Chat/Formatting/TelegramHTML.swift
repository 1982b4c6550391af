/// Markdown → the HTML subset Telegram's parse_mode "HTML" accepts.
///
/// Design: every tag written here is one TDLib knows (`b i s code pre a blockquote`), every
/// tag is closed where it was opened, and every piece of source text goes through
/// `escape`, so HTML in an answer (`<div>`, `a < b && c`) is shown as text and can never
/// open a tag. Telegram has no lists, headings, tables or rules, so they become text:
/// "•" / "1." with indentation, a bold line, a monospace `<pre>` table, "———".
/// The nesting rules of Telegram's entities are kept: a quote inside a quote is flattened
/// (blockquotes cannot nest), code inside a link and a link inside a link are plain text
/// (links cannot contain code or links). Only http, https, tg and mailto destinations become
/// links, at most 2,048 bytes long; other ones (relative paths, javascript:) show just
/// their label.
enum TelegramHTML {
    static func render(markdown: String) -> String {
        render(MarkdownBlock.parse(markdown), separator: "\n\n", inQuote: false)
    }

    /// The text Telegram shows for `html` (tags removed, entities decoded): what its
    /// length limit counts.
    static func visibleText(_ html: String) -> String {
        StyledText(html: html).text
    }

    /// `&`, `<` and `>` as entities: what text needs, inside `<pre>` and `<code>` too.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// For a double-quoted attribute value: `escape` plus `"`.
    static func escapeAttribute(_ text: String) -> String {
        escape(text).replacing("\"", with: "&quot;")
    }

    static let rule = "———"
    static let maxLinkBytes = 2048

    /// The href for a destination Telegram should link to, or nil.
    static func linkTarget(_ destination: String) -> String? {
        let lowered = destination.lowercased()
        guard ["http://", "https://", "tg://", "mailto:"].contains(where: lowered.hasPrefix),
            destination.utf8.count <= maxLinkBytes,
            !destination.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else { return nil }
        return destination
    }

    // MARK: Blocks

    private static func render(_ blocks: [MarkdownBlock], separator: String, inQuote: Bool) -> String {
        blocks.map { render($0, inQuote: inQuote) }.filter { !$0.isEmpty }.joined(separator: separator)
    }

    private static func render(_ block: MarkdownBlock, inQuote: Bool) -> String {
        switch block {
        case .paragraph(let text):
            return render(MarkdownInline.parse(text))
        case .heading(_, let text):
            let content = render(MarkdownInline.parse(text))
            return content.isEmpty ? "" : "<b>" + content + "</b>"
        case .code(let language, let text):
            guard !text.isEmpty else { return "" }
            guard let language else { return "<pre>" + escape(text) + "</pre>" }
            return "<pre><code class=\"language-" + language + "\">" + escape(text) + "</code></pre>"
        case .quote(let children):
            let content = render(children, separator: "\n\n", inQuote: true)
            return inQuote || content.isEmpty ? content : "<blockquote>" + content + "</blockquote>"
        case .list(let ordered, let start, let items):
            return items.enumerated().map { number, item in
                var (item, marker) = (item, ordered ? "\(start + number)." : "•")
                // A task list's box replaces the bullet: ☐ to do, ☑ done.
                if !ordered, case .paragraph(let text)? = item.first, let task = MarkdownLine.taskBox(text) {
                    marker = task.checked ? "☑" : "☐"
                    item[0] = .paragraph(task.rest)
                }
                return indentItem(marker: marker, render(item, separator: "\n", inQuote: inQuote))
            }.joined(separator: "\n")
        case .table(let table):
            return "<pre>" + escape(TableLayout.text(of: table)) + "</pre>"
        case .rule:
            return rule
        }
    }

    /// "• first line", later lines under the first one's text.
    private static func indentItem(marker: String, _ content: String) -> String {
        let padding = String(repeating: " ", count: marker.count + 1)
        let lines = content.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, !content.isEmpty else { return marker }
        return ([marker + " " + first] + lines.dropFirst().map { $0.isEmpty ? "" : padding + $0 }).joined(separator: "\n")
    }

    // MARK: Inlines

    static func render(_ inlines: [MarkdownInline], inLink: Bool = false) -> String {
        inlines.map { inline in
            switch inline {
            case .text(let text):
                return escape(text)
            case .code(let code):
                return inLink || code.isEmpty ? escape(code) : "<code>" + escape(code) + "</code>"
            case .strong(let children):
                return wrap("b", render(children, inLink: inLink))
            case .emphasis(let children):
                return wrap("i", render(children, inLink: inLink))
            case .strikethrough(let children):
                return wrap("s", render(children, inLink: inLink))
            case .link(let destination, let label):
                guard !inLink, let href = linkTarget(destination) else {
                    return label.isEmpty ? escape(destination) : render(label, inLink: inLink)
                }
                let text = label.isEmpty ? escape(destination) : render(label, inLink: true)
                return "<a href=\"" + escapeAttribute(href) + "\">" + text + "</a>"
            }
        }.joined()
    }

    private static func wrap(_ tag: String, _ content: String) -> String {
        content.isEmpty ? "" : "<\(tag)>" + content + "</\(tag)>"
    }

    /// The text of inlines without formatting (table cells).
    static func plainText(_ inlines: [MarkdownInline]) -> String {
        inlines.map { inline in
            switch inline {
            case .text(let text), .code(let text): text
            case .strong(let children), .emphasis(let children), .strikethrough(let children): plainText(children)
            case .link(let destination, let label): label.isEmpty ? destination : plainText(label)
            }
        }.joined()
    }
}
