/// A Markdown table as monospace text: columns padded to a common width and aligned as
/// the delimiter row says, ` | ` between cells and a `-+-` rule under the header.
///
/// Design: cells lose their inline formatting (a `<pre>` block cannot contain any). Widths
/// are display columns, not characters: East Asian wide characters and emoji take two, so
/// a table of CJK text or emoji still lines up in Telegram's monospace font; combining
/// marks and zero-width characters take none.
enum TableLayout {
    static func text(of table: MarkdownTable) -> String {
        let rows = ([table.header] + table.rows).map { row in
            row.map { TelegramHTML.plainText(MarkdownInline.parse($0)).replacing("\n", with: " ") }
        }
        let widths = table.header.indices.map { column in
            max(1, rows.map { width(of: $0[column]) }.max() ?? 0)
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                pad(cell, to: widths[column], table.alignments[column])
            }.joined(separator: " | ").trimmingTrailingSpaces()
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")
        return ([line(rows[0]), rule] + rows.dropFirst().map(line)).joined(separator: "\n")
    }

    private static func pad(_ cell: String, to width: Int, _ alignment: MarkdownTable.Alignment) -> String {
        let missing = max(0, width - self.width(of: cell))
        switch alignment {
        case .left: return cell + String(repeating: " ", count: missing)
        case .right: return String(repeating: " ", count: missing) + cell
        case .center:
            return String(repeating: " ", count: missing / 2) + cell + String(repeating: " ", count: missing - missing / 2)
        }
    }

    static func width(of text: String) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    static func width(of character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        let properties = first.properties
        if properties.isEmojiPresentation || character.unicodeScalars.contains("\u{FE0F}") && properties.isEmoji {
            return 2
        }
        switch properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: break
        }
        return wideRanges.contains { $0.contains(first.value) } ? 2 : 1
    }

    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x20000...0x3FFFD,
    ]
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
