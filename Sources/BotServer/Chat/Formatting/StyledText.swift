/// A message as Telegram sees it after parsing its HTML: the characters it shows (tags
/// removed, entities decoded) and, for every character, the tags around it. This is what
/// Telegram's length limit counts, and what `MessageSplitter` cuts.
///
/// Design: reading the HTML once into characters plus a tag stack per character makes
/// every later question simple. A cut can only fall between two characters, so never
/// inside a tag or an entity; the tags open at a cut are the stack of the characters on
/// either side, to be closed and reopened. Characters are grapheme clusters (a flag, a ZWJ
/// family or a surrogate pair is never cut); only a pathological cluster of more than 32
/// UTF-16 units is taken apart into its scalars.
///
/// It reads the subset `TelegramHTML` writes and the few other simple tags TDLib knows.
/// Entities are decoded as TDLib does (`&lt; &gt; &amp; &quot;`, numeric, `;` optional).
/// Anything else that starts with `<` is text, an end tag without its start tag is
/// dropped, and tags left open are closed at the end; written out again, it is always
/// valid for Telegram.
struct StyledText {
    struct Tag {
        let id: Int
        let name: String
        /// The start tag as it was written, attributes included.
        let start: String
        var end: String { "</\(name)>" }
    }

    private(set) var characters: [Character] = []
    /// For each character, its tag stack: an index into `stacks` (0: no tags).
    private(set) var styles: [Int] = []
    private(set) var stacks: [[Tag]] = [[]]

    static let maxClusterUTF16 = 32

    var text: String { String(characters) }

    init(plain: String) {
        append(plain, style: 0)
    }

    init(html: String) {
        let scalars = Array(html.unicodeScalars)
        var run = String.UnicodeScalarView()
        var open: [Tag] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "<", let (tag, end) = Self.tag(in: scalars, at: index) {
                append(String(run), style: stacks.count - 1)
                run = String.UnicodeScalarView()
                switch tag {
                case .start(let name, let text):
                    open.append(Tag(id: index, name: name, start: text))
                case .end(let name):
                    guard let match = open.lastIndex(where: { $0.name == name }) else { break }
                    open.removeSubrange(match...)
                }
                stacks.append(open)
                index = end
            } else if scalar == "&", let (decoded, end) = Self.entity(in: scalars, at: index) {
                run.append(decoded)
                index = end
            } else {
                run.append(scalar)
                index += 1
            }
        }
        append(String(run), style: stacks.count - 1)
    }

    private mutating func append(_ text: String, style: Int) {
        for character in text {
            if character.utf16.count > Self.maxClusterUTF16 {
                for scalar in character.unicodeScalars {
                    characters.append(Character(scalar))
                    styles.append(style)
                }
            } else {
                characters.append(character)
                styles.append(style)
            }
        }
    }

    // MARK: Writing

    /// The end and start tags that lead from stack `from` to stack `to` (0: no tags).
    func markup(from: Int, to: Int) -> String {
        guard from != to else { return "" }
        let old = stacks[from]
        let new = stacks[to]
        var common = 0
        while common < old.count, common < new.count, old[common].id == new[common].id { common += 1 }
        return old[common...].reversed().map(\.end).joined() + new[common...].map(\.start).joined()
    }

    /// The characters in `range` as HTML, every tag closed at the end and reopened at the start.
    func html(_ range: Range<Int>) -> String {
        var html = ""
        var style = 0
        for index in range {
            if styles[index] != style {
                html += markup(from: style, to: styles[index])
                style = styles[index]
            }
            Self.appendEscaped(characters[index], to: &html)
        }
        return html + markup(from: style, to: 0)
    }

    func plain(_ range: Range<Int>) -> String {
        String(characters[range])
    }

    static func appendEscaped(_ character: Character, to html: inout String) {
        switch character {
        case "&": html += "&amp;"
        case "<": html += "&lt;"
        case ">": html += "&gt;"
        default: html.append(character)
        }
    }

    /// Bytes of a character as sent: escaped in HTML.
    static func htmlBytes(_ character: Character) -> Int {
        switch character {
        case "&": 5
        case "<", ">": 4
        default: character.utf8.count
        }
    }

    // MARK: Reading

    private enum TagToken {
        case start(name: String, text: String)
        case end(name: String)
    }

    private static let tagNames: Set<String> = [
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "blockquote", "tg-spoiler", "span",
    ]

    /// A start or end tag of a supported element at `start`, and the index after its `>`.
    private static func tag(in scalars: [Unicode.Scalar], at start: Int) -> (TagToken, Int)? {
        var index = start + 1
        let closing = index < scalars.count && scalars[index] == "/"
        if closing { index += 1 }
        var name = ""
        while index < scalars.count, scalars[index].isASCII,
            scalars[index].properties.isAlphabetic || scalars[index] == "-" || ("0"..."9").contains(scalars[index])
        {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        name = name.lowercased()
        guard tagNames.contains(name) else { return nil }
        if closing {
            while index < scalars.count, scalars[index] == " " { index += 1 }
            guard index < scalars.count, scalars[index] == ">" else { return nil }
            return (.end(name: name), index + 1)
        }
        // Attributes: anything up to a `>` outside quotes.
        var quote: Unicode.Scalar?
        while index < scalars.count {
            let scalar = scalars[index]
            if let open = quote {
                if scalar == open { quote = nil }
            } else if scalar == ">" {
                break
            } else if scalar == "\"" || scalar == "'" {
                quote = scalar
            } else if scalar == "<" || scalar == "\0" || (index == start + 1 + name.unicodeScalars.count && scalar != " ") {
                return nil
            }
            index += 1
        }
        guard index < scalars.count else { return nil }
        let text = String(String.UnicodeScalarView(scalars[start...index]))
        if name == "span", !text.contains("tg-spoiler") { return nil }
        return (.start(name: name, text: text), index + 1)
    }

    /// TDLib's decode_html_entity: the scalar and the index after it, or nil for a literal `&`.
    private static func entity(in scalars: [Unicode.Scalar], at start: Int) -> (Unicode.Scalar, Int)? {
        var index = start + 1
        var code: UInt32 = 0
        if index < scalars.count, scalars[index] == "#" {
            index += 1
            let hex = index < scalars.count && scalars[index] == "x"
            if hex { index += 1 }
            while index < scalars.count, let digit = hex ? scalars[index].hexDigitValue : scalars[index].decimalDigitValue {
                code = min(code &* (hex ? 16 : 10) &+ UInt32(digit), 0x110000)
                index += 1
            }
            guard code != 0, code < 0x10FFFF, index - start < 10, let scalar = Unicode.Scalar(code) else { return nil }
            return (scalar, index < scalars.count && scalars[index] == ";" ? index + 1 : index)
        }
        var name = ""
        while index < scalars.count, scalars[index].isASCII, scalars[index].properties.isAlphabetic {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        let named: [String: Unicode.Scalar] = ["lt": "<", "gt": ">", "amp": "&", "quot": "\""]
        guard let scalar = named[name] else { return nil }
        return (scalar, index < scalars.count && scalars[index] == ";" ? index + 1 : index)
    }
}

extension Unicode.Scalar {
    fileprivate var decimalDigitValue: Int? { ("0"..."9").contains(self) ? Int(value - 48) : nil }
    fileprivate var hexDigitValue: Int? {
        switch self {
        case "0"..."9": Int(value - 48)
        case "a"..."f": Int(value - 87)
        case "A"..."F": Int(value - 55)
        default: nil
        }
    }
}
