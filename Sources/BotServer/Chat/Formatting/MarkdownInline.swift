/// Inline Markdown: code spans, emphasis, strikethrough, links and autolinks.
///
/// Design: one left-to-right scan over the text's characters (grapheme clusters, so an
/// emoji sequence is never taken apart). Code spans, escapes, links and autolinks are
/// recognised as they are met; `*`, `_` and `~` runs are collected and paired afterwards by
/// CommonMark's delimiter algorithm (`DelimiterRuns`), which is what makes `**a *b* c**`,
/// `snake_case_name` and `2 * 3 * 4` come out right without backtracking. Searches are
/// bounded (a link label is at most 2,000 characters with brackets at most 32 deep, links
/// nest at most 4 deep, a backtick length that found no closer is not searched again), so
/// hostile input stays cheap.
indirect enum MarkdownInline: Equatable, Sendable {
    case text(String)
    case code(String)
    case strong([MarkdownInline])
    case emphasis([MarkdownInline])
    case strikethrough([MarkdownInline])
    /// Any destination; the renderer decides which ones become links.
    case link(destination: String, label: [MarkdownInline])

    static func parse(_ source: String) -> [MarkdownInline] {
        var scanner = InlineScanner(Array(source), depth: 0)
        return scanner.scan()
    }
}

struct InlineScanner {
    enum Node {
        case inline(MarkdownInline)
        case delimiter(Int)
    }

    private static let maxLabelLength = 2000
    private static let maxLinkDepth = 4
    private static let maxBracketNesting = 32
    private static let maxAutolinkLength = 2048
    private static let titleCloser: [Character: Character] = ["\"": "\"", "'": "'", "(": ")"]

    private let chars: [Character]
    private let depth: Int
    private var position = 0
    private var nodes: [Node] = []
    private var text = ""
    private var delimiters = DelimiterRuns()
    /// Backtick lengths with no closing run at or after the stored position.
    private var noCloserFrom: [Int: Int] = [:]

    init(_ chars: [Character], depth: Int) {
        self.chars = chars
        self.depth = depth
    }

    mutating func scan() -> [MarkdownInline] {
        while position < chars.count {
            let character = chars[position]
            switch character {
            case "\\": escape()
            case "`": codeSpan()
            case "<" where autolink(): break
            case "[" where link(): break
            case "!" where peek(1) == "[" && link(): break
            case "*", "_", "~": delimiterRun(character)
            default:
                text.append(character)
                position += 1
            }
        }
        flush()
        return delimiters.resolve(nodes)
    }

    private func peek(_ offset: Int) -> Character? {
        position + offset < chars.count ? chars[position + offset] : nil
    }

    private mutating func flush() {
        guard !text.isEmpty else { return }
        nodes.append(.inline(.text(text)))
        text = ""
    }

    private mutating func append(_ inline: MarkdownInline) {
        flush()
        nodes.append(.inline(inline))
    }

    private static func isASCIIPunctuation(_ character: Character?) -> Bool {
        guard let character, character.isASCII else { return false }
        return ##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##.contains(character)
    }

    /// `\` before ASCII punctuation makes it literal; before a line end it is a hard break.
    private mutating func escape() {
        let next = peek(1)
        if Self.isASCIIPunctuation(next) || next == "\n", let next {
            text.append(next)
            position += 2
        } else {
            text.append("\\")
            position += 1
        }
    }

    /// A backtick run up to the next run of the same length; otherwise the run is text.
    private mutating func codeSpan() {
        let length = runLength(at: position)
        guard let close = closingBackticks(length: length, from: position + length, before: chars.count) else {
            text += String(repeating: "`", count: length)
            position += length
            return
        }
        var content = String(chars[(position + length)..<close]).replacing("\n", with: " ")
        if content.count >= 2, content.first == " ", content.last == " ", content.contains(where: { $0 != " " }) {
            content = String(content.dropFirst().dropLast())
        }
        append(.code(content))
        position = close + length
    }

    private func runLength(at start: Int) -> Int {
        var end = start
        while end < chars.count, chars[end] == chars[start] { end += 1 }
        return end - start
    }

    private mutating func closingBackticks(length: Int, from start: Int, before end: Int) -> Int? {
        if let none = noCloserFrom[length], start >= none { return nil }
        var index = start
        while index < end {
            guard chars[index] == "`" else {
                index += 1
                continue
            }
            let run = runLength(at: index)
            if run == length { return index }
            index += run
        }
        if end == chars.count { noCloserFrom[length] = start }
        return nil
    }

    /// `<scheme:...>` or `<user@host>`.
    private mutating func autolink() -> Bool {
        var index = position + 1
        while index < chars.count, index - position <= Self.maxAutolinkLength, chars[index] != ">" {
            if chars[index] == "<" || chars[index].isWhitespace { return false }
            index += 1
        }
        guard index < chars.count, chars[index] == ">" else { return false }
        let content = String(chars[(position + 1)..<index])
        if Self.isAbsoluteURI(content) {
            append(.link(destination: content, label: [.text(content)]))
        } else if Self.isEmail(content) {
            append(.link(destination: "mailto:" + content, label: [.text(content)]))
        } else {
            return false
        }
        position = index + 1
        return true
    }

    private static func isAbsoluteURI(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        let scheme = text[..<colon]
        return (2...32).contains(scheme.count) && scheme.first!.isASCII && scheme.first!.isLetter
            && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }
    }

    private static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains(".") else { return false }
        return parts[0].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".!#$%&'*+/=?^_`{|}~-".contains($0)) }
            && parts[1].split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }

    /// `[label](destination "title")`, or `![alt](...)` (an image becomes a link to it).
    private mutating func link() -> Bool {
        let open = chars[position] == "!" ? position + 1 : position
        guard depth < Self.maxLinkDepth, let close = labelEnd(from: open + 1), close + 1 < chars.count, chars[close + 1] == "(",
            let (destination, end) = self.destination(from: close + 2)
        else { return false }
        var inner = InlineScanner(Array(chars[(open + 1)..<close]), depth: depth + 1)
        append(.link(destination: destination, label: inner.scan()))
        position = end
        return true
    }

    /// The matching `]`, skipping escapes, code spans and nested brackets.
    private mutating func labelEnd(from start: Int) -> Int? {
        let end = min(chars.count, start + Self.maxLabelLength)
        var nesting = 0
        var index = start
        while index < end {
            switch chars[index] {
            case "\\":
                index += 2
                continue
            case "`":
                let length = runLength(at: index)
                index = closingBackticks(length: length, from: index + length, before: end).map { $0 + length } ?? index + length
                continue
            case "[":
                nesting += 1
                if nesting > Self.maxBracketNesting { return nil }
            case "]":
                if nesting == 0 { return index }
                nesting -= 1
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// After `(`: a destination (`<...>` or without spaces, with balanced parentheses), an
    /// optional title, `)`. Returns the unescaped destination and the index after `)`.
    private func destination(from start: Int) -> (String, Int)? {
        var index = start
        func skipSpace() {
            while index < chars.count, chars[index].isWhitespace { index += 1 }
        }
        skipSpace()
        var url = ""
        if index < chars.count, chars[index] == "<" {
            index += 1
            while index < chars.count, chars[index] != ">" {
                if chars[index] == "<" || chars[index] == "\n" { return nil }
                if chars[index] == "\\", index + 1 < chars.count, Self.isASCIIPunctuation(chars[index + 1]) { index += 1 }
                url.append(chars[index])
                index += 1
            }
            guard index < chars.count else { return nil }
            index += 1
        } else {
            var parentheses = 0
            while index < chars.count, !chars[index].isWhitespace {
                let character = chars[index]
                if character == "(" {
                    parentheses += 1
                    if parentheses > 32 { return nil }
                } else if character == ")" {
                    if parentheses == 0 { break }
                    parentheses -= 1
                } else if character.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    return nil
                }
                if character == "\\", index + 1 < chars.count, Self.isASCIIPunctuation(chars[index + 1]) { index += 1 }
                url.append(chars[index])
                index += 1
            }
            guard parentheses == 0 else { return nil }
        }
        let beforeTitle = index
        skipSpace()
        if index > beforeTitle, index < chars.count, let quote = Self.titleCloser[chars[index]] {
            index += 1
            while index < chars.count, chars[index] != quote { index += chars[index] == "\\" ? 2 : 1 }
            guard index < chars.count else { return nil }
            index += 1
            skipSpace()
        }
        guard index < chars.count, chars[index] == ")" else { return nil }
        return (url, index + 1)
    }

    /// A run of `*`, `_` or `~`; whether it may open or close is decided by its neighbours.
    private mutating func delimiterRun(_ character: Character) {
        let start = position
        let length = runLength(at: start)
        position += length
        guard character != "~" || length <= 2 else {
            text += String(repeating: "~", count: length)
            return
        }
        flush()
        let before = start > 0 ? chars[start - 1] : nil
        let after = position < chars.count ? chars[position] : nil
        nodes.append(.delimiter(delimiters.add(character, length: length, before: before, after: after)))
    }
}
