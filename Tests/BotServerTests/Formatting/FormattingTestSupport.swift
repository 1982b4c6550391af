@testable import BotServer

/// Checks written independently of the code under test: how Telegram reads a chunk.
enum TelegramChunk {
    /// The text Telegram shows: tags removed, the four entities we write decoded.
    static func visibleText(_ html: String) -> String {
        let bytes = Array(html.utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "<"), let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) {
                index = end + 1
            } else if bytes[index] == UInt8(ascii: "&"), let (decoded, length) = entity(bytes, index) {
                text.append(decoded)
                index += length
            } else {
                text.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static let entities: [([UInt8], UInt8)] = [
        (Array("&amp;".utf8), UInt8(ascii: "&")), (Array("&lt;".utf8), UInt8(ascii: "<")),
        (Array("&gt;".utf8), UInt8(ascii: ">")), (Array("&quot;".utf8), UInt8(ascii: "\"")),
    ]

    private static func entity(_ bytes: [UInt8], _ index: Int) -> (UInt8, Int)? {
        for (name, byte) in entities where bytes[index...].starts(with: name) { return (byte, name.count) }
        return nil
    }

    /// What is wrong with a chunk for Telegram's HTML parser and entity rules (empty: nothing).
    /// Only the tags we write are accepted; every `<` starts one, every `&` an entity.
    static func problems(_ html: String) -> [String] {
        let bytes = Array(html.utf8)
        var problems: [String] = []
        var stack: [String] = []
        var lastTag = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "&") {
                guard let (_, length) = entity(bytes, index) else {
                    problems.append("bare & at byte \(index)")
                    index += 1
                    continue
                }
                index += length
                lastTag = ""
                continue
            }
            if byte == UInt8(ascii: ">") { problems.append("bare > at byte \(index)") }
            guard byte == UInt8(ascii: "<") else {
                index += 1
                lastTag = ""
                continue
            }
            guard let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else {
                problems.append("unclosed tag")
                break
            }
            let tag = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
            index = end + 1
            if tag.hasPrefix("/") {
                let name = String(tag.dropFirst())
                if stack.last != name { problems.append("</\(name)> closes \(stack.last ?? "nothing")") } else { stack.removeLast() }
                lastTag = ""
                continue
            }
            let name = String(tag.prefix { $0 != " " })
            switch tag {
            case "b", "i", "s", "pre", "blockquote", "code": break
            case _ where tag.hasPrefix("code class=\"language-"):
                let language = tag.dropFirst("code class=\"language-".count).dropLast()
                if !tag.hasSuffix("\"") || language.isEmpty
                    || !language.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_+-".contains($0)) })
                {
                    problems.append("bad language in <\(tag)>")
                }
                if lastTag != "pre" { problems.append("a language outside <pre>") }
            case _ where tag.hasPrefix("a href=\"") && tag.hasSuffix("\"") && tag.count > 8:
                let href = tag.dropFirst(8).dropLast()
                if href.contains("\"") || href.contains("<") { problems.append("unescaped href \(href)") }
            default:
                problems.append("unsupported tag <\(tag)>")
            }
            // Telegram's nesting rules: nothing inside code or pre (but pre > code), no link or
            // code in a link, no quote in a quote.
            if let top = stack.last, top == "code" || (top == "pre" && !(name == "code" && lastTag == "pre")) {
                problems.append("<\(name)> inside <\(top)>")
            }
            if name == "a" && stack.contains("a") || name == "blockquote" && stack.contains("blockquote")
                || name == "code" && stack.contains("a")
            {
                problems.append("nested <\(name)>")
            }
            stack.append(name)
            lastTag = name
        }
        if !stack.isEmpty { problems.append("left open: \(stack)") }
        return problems
    }

    /// Telegram's limits: visible text 1-4096 (we count UTF-16 units), at most 32,768 bytes sent.
    static func limitProblems(_ text: String, visible: String, limit: Int = TelegramLimits.messageText) -> [String] {
        var problems: [String] = []
        if visible.utf16.count > limit { problems.append("\(visible.utf16.count) UTF-16 units") }
        if text.utf8.count > 32_768 { problems.append("\(text.utf8.count) bytes") }
        if visible.allSatisfy(\.isWhitespace) { problems.append("nothing visible") }
        return problems
    }

    static func nonWhitespaceScalars(_ text: String) -> [Unicode.Scalar] {
        text.unicodeScalars.filter { $0.isASCII ? $0.value > 32 : !$0.properties.isWhitespace }
    }
}

extension String {
    /// As Python's str.strip() (the fake) for the text we generate.
    var trimmedLikeTelegram: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }
}

/// A fixed-seed generator, so a failing case can be reproduced from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random Markdown from a small grammar: the blocks and inlines the formatter knows, text
/// that looks like HTML or entities, emoji of every kind, and sizes that need splitting.
struct MarkdownGrammar {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    static let words = [
        "word", "Swift", "naïve", "данные", "日本語", "😀", "👨‍👩‍👧‍👦", "🇺🇦🇯🇵", "👍🏽", "é", "a<b", "x&y", "\"q\"", "'s'",
        "<div>", "</b>", "&amp;", "&#x41;", "&lt;", "snake_case", "2*3", #"C:\path"#, "[x]", "(y)", "~", "|", "#tag", "a>b", "&",
    ]

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &random)] }
    mutating func number(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ percent: Int) -> Bool { number(1...100) <= percent }

    mutating func words(_ range: ClosedRange<Int>) -> String {
        (0..<number(range)).map { _ in pick(Self.words) }.joined(separator: " ")
    }

    mutating func url() -> String {
        pick([
            "https://example.com/p?a=1&b=2", #"https://example.com/q?x="y"&z='w'"#, "tg://user?id=42", "mailto:a@b.co",
            "relative/path.swift", "javascript:alert(1)", "https://x.io/" + String(repeating: "seg/", count: number(1...200)),
        ])
    }

    mutating func inline() -> String {
        switch number(0...13) {
        case 0: return "**" + words(1...4) + "**"
        case 1: return "*" + words(1...4) + "*"
        case 2: return "_" + words(1...3) + "_"
        case 3: return "~~" + words(1...3) + "~~"
        case 4: return "`" + pick(["x < y", "a && b", "``", "<b>", "let x = \"s\""]) + "`"
        case 5: return "[" + words(1...3) + "](" + url() + ")"
        case 6: return "<" + pick(["https://example.com/a_b?c=1&d=2", "me@example.com", "div", "not a link"]) + ">"
        case 7: return pick(["*", "**", "_", "`", "~~", "[", "](", "\\", "<", "&"])
        case 8: return "***" + words(1...2) + "***"
        case 9: return "**" + words(1...2) + " *" + words(1...2) + "* " + words(1...2) + "**"
        default: return words(1...6)
        }
    }

    mutating func paragraph(_ length: ClosedRange<Int> = 3...40) -> String {
        (0..<number(1...3)).map { _ in (0..<number(length)).map { _ in inline() }.joined(separator: " ") }.joined(separator: "\n")
    }

    mutating func codeLine() -> String {
        String(repeating: " ", count: number(0...8))
            + pick(["if a < b && c > d {", "print(\"x\")", "``` nested fence", "// &amp; &lt;", "return x", "😀 = 1", "\tindented"])
    }

    mutating func list(depth: Int) -> String {
        let ordered = chance(50)
        return (0..<number(1...6)).map { index in
            let marker = ordered ? "\(index + 1). " : pick(["- ", "* ", "+ "])
            var item = marker + paragraph(2...12).replacing("\n", with: " ")
            if depth < 3, chance(30) {
                item += "\n" + list(depth: depth + 1).split(separator: "\n", omittingEmptySubsequences: false)
                    .map { String(repeating: " ", count: marker.count) + $0 }.joined(separator: "\n")
            }
            return item
        }.joined(separator: "\n")
    }

    mutating func table() -> String {
        let columns = number(1...4)
        func row(_ grammar: inout MarkdownGrammar) -> String {
            "| " + (0..<columns).map { _ in grammar.inline().replacing("|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        let delimiter = "|" + (0..<columns).map { _ in pick(["---", ":--", "--:", ":-:"]) }.joined(separator: "|") + "|"
        return ([row(&self), delimiter] + (0..<number(1...6)).map { _ in row(&self) }).joined(separator: "\n")
    }

    mutating func block(kinds: [Int] = Array(0...16)) -> String {
        switch pick(kinds) {
        case 0: return String(repeating: "#", count: number(1...6)) + " " + words(1...6)
        case 1:
            let fence = pick(["```", "````", "~~~"])
            let language = pick(["swift", "c++", "", "obj-c", "\"><b>"])
            let lines = (0..<number(1...(chance(15) ? 250 : 15))).map { _ in codeLine() }
            return fence + language + "\n" + lines.joined(separator: "\n") + "\n" + fence
        case 2: return list(depth: 0)
        case 3: return paragraph().split(separator: "\n").map { "> " + $0 }.joined(separator: "\n")
        case 4: return table()
        case 5: return pick(["---", "***", "___"])
        case 6: return String(repeating: pick(["x", "ж", "😀", "&", "<", "a_b"]), count: number(100...5000))
        case 7: return (0..<number(100...900)).map { _ in pick(Self.words) }.joined(separator: " ")
        case 8: return "    " + codeLine() + "\n    " + codeLine()
        default: return paragraph()
        }
    }

    /// Most answers are short; one in five is long enough to need several messages.
    mutating func document() -> String {
        let long = chance(20)
        return (0..<number(long ? 8...16 : 1...6)).map { _ in long ? block() : smallBlock() }
            .joined(separator: pick(["\n\n", "\n", "\n\n\n"]))
    }

    mutating func smallBlock() -> String {
        chance(20) ? String(repeating: pick(["x", "😀", "&"]), count: number(10...300)) : block(kinds: [0, 1, 2, 3, 4, 5, 8, 9])
    }
}
