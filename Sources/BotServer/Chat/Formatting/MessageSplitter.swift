/// Cuts a message into chunks Telegram accepts: at most `maxLength` UTF-16 units of text
/// after entity parsing (Telegram's limit is 4,096; TDLib counts code points, which are
/// never more than UTF-16 units, so this is at least as strict) and at most `maxBytes`
/// bytes as sent (the Bot API refuses more than 32,768: "text is too long").
///
/// Design: a greedy scan over `StyledText`. Each chunk takes as many characters as fit,
/// counting the tags that reopen at its start and close at its end, then backs off to the
/// best boundary in its second half: a blank line, else a line end, else a space (the
/// separator itself is dropped; Telegram trims it anyway). With none there, it cuts after
/// the last character that fits. Requiring the second half keeps every chunk but the last
/// at least half full. Chunks that would show only whitespace are left out (Telegram
/// refuses them: "text must be non-empty").
struct MessageSplitter: Sendable {
    enum Markup: Sendable {
        /// parse_mode HTML: text is escaped, tags are written and count as bytes.
        case html
        /// No parse_mode: the text as it is.
        case plain
    }

    /// The Bot API's limit on the text as sent ("text is too long").
    static let telegramMaxBytes = 32_768

    /// In UTF-16 code units of the visible text.
    let maxLength: Int
    /// In UTF-8 bytes of the text as sent.
    let maxBytes: Int

    init(maxLength: Int = TelegramLimits.messageText, maxBytes: Int = Self.telegramMaxBytes) {
        // A chunk must hold the largest character cluster (and a little markup).
        self.maxLength = max(maxLength, 2 * StyledText.maxClusterUTF16)
        self.maxBytes = max(maxBytes, 16 * StyledText.maxClusterUTF16)
    }

    func split(html: String, maxChunks: Int = .max) -> [String] {
        let text = StyledText(html: html)
        return ranges(of: text, markup: .html, maxChunks: maxChunks).map(text.html)
    }

    func split(plain: String, maxChunks: Int = .max) -> [String] {
        let text = StyledText(plain: plain)
        return ranges(of: text, markup: .plain, maxChunks: maxChunks).map(text.plain)
    }

    /// The character ranges of the chunks (at most `maxChunks` of them).
    func ranges(of text: StyledText, markup: Markup, maxChunks: Int = .max) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while start < text.characters.count, ranges.count < maxChunks {
            let (end, next) = cut(text, from: start, markup: markup)
            if !Self.isBlank(text.characters[start..<end]) { ranges.append(start..<end) }
            start = next
        }
        return ranges
    }

    /// A place to end a chunk: the chunk is `..<end`, the next one starts at `next`, and
    /// `length` is what the chunk shows.
    private struct Cut {
        var end: Int
        var next: Int
        var length: Int
    }

    /// Where the chunk starting at `start` ends, and where the next one starts.
    private func cut(_ text: StyledText, from start: Int, markup: Markup) -> (end: Int, next: Int) {
        let characters = text.characters
        var style = text.styles[start]
        var closing = cost(text, from: style, to: 0, markup)
        var length = 0
        var bytes = cost(text, from: 0, to: style, markup)
        var paragraph: Cut?
        var line: Cut?
        var word: Cut?
        var index = start
        while index < characters.count {
            let character = characters[index]
            var added = markup == .html ? StyledText.htmlBytes(character) : character.utf8.count
            if text.styles[index] != style {
                added += cost(text, from: style, to: text.styles[index], markup)
                style = text.styles[index]
                closing = cost(text, from: style, to: 0, markup)
            }
            guard length + character.utf16.count <= maxLength, bytes + added + closing <= maxBytes else { break }
            if index > start, character.isNewline, !characters[index - 1].isNewline {
                var after = index
                while after < characters.count, characters[after].isNewline { after += 1 }
                if after - index >= 2 { paragraph = Cut(end: index, next: after, length: length) }
                line = Cut(end: index, next: index + 1, length: length)
            } else if index > start, character == " " {
                word = Cut(end: index, next: index + 1, length: length)
            }
            length += character.utf16.count
            bytes += added
            index += 1
        }
        if index == characters.count { return (index, index) }
        if let cut = [paragraph, line, word].lazy.compactMap({ $0 }).first(where: { $0.length >= length / 2 }) {
            return (cut.end, cut.next)
        }
        return (max(index, start + 1), max(index, start + 1))
    }

    /// Whether Telegram would see nothing here (it trims whitespace; control characters become spaces).
    static func isBlank(_ characters: ArraySlice<Character>) -> Bool {
        characters.allSatisfy { character in
            character.isWhitespace || character.unicodeScalars.allSatisfy { $0.properties.generalCategory == .control }
        }
    }

    private func cost(_ text: StyledText, from: Int, to: Int, _ markup: Markup) -> Int {
        markup == .html && from != to ? text.markup(from: from, to: to).utf8.count : 0
    }
}
