/// What a single Markdown line is: the tests `MarkdownBlockParser` asks line by line
/// (blank, indentation, fences, headings, rules, quote and list markers, table rows).
///
/// Indentation is counted in columns with tabs to the next multiple of 4, as CommonMark
/// does; removing it turns a partly removed tab into spaces and leaves other tabs alone
/// (a Makefile in a code block keeps its tabs).
enum MarkdownLine {
    /// Lines with "\r\n" and "\r" normalised to "\n" and NUL replaced by U+FFFD (TDLib
    /// reads text as a C string: a NUL in an attribute would end the message there).
    static func lines(of text: String) -> [String] {
        var scalars = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar {
            case "\r": scalars.append("\n")
            case "\n" where previousWasCR: continue
            case "\0": scalars.append("\u{FFFD}")
            default: scalars.append(scalar)
            }
        }
        return String(scalars).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    static func isBlank(_ line: String) -> Bool {
        line.unicodeScalars.allSatisfy { $0 == " " || $0 == "\t" }
    }

    static func indent(of line: String) -> Int {
        var columns = 0
        for scalar in line.unicodeScalars {
            if scalar == " " {
                columns += 1
            } else if scalar == "\t" {
                columns += 4 - columns % 4
            } else {
                break
            }
        }
        return columns
    }

    static func dropIndent(_ line: String, upTo columns: Int) -> String {
        var removed = 0
        var index = line.unicodeScalars.startIndex
        while removed < columns, index < line.unicodeScalars.endIndex {
            let scalar = line.unicodeScalars[index]
            let width = scalar == " " ? 1 : scalar == "\t" ? 4 - removed % 4 : 0
            guard width > 0 else { break }
            index = line.unicodeScalars.index(after: index)
            if removed + width > columns {  // a tab that straddles the cut
                return String(repeating: " ", count: removed + width - columns) + String(line.unicodeScalars[index...])
            }
            removed += width
        }
        return String(line.unicodeScalars[index...])
    }

    /// The line without indentation (at most `limit` columns of it).
    private static func content(_ line: String, maxIndent limit: Int = 3) -> Substring? {
        guard indent(of: line) <= limit else { return nil }
        return line.drop { $0 == " " || $0 == "\t" }
    }

    static func joinParagraph(_ lines: [String]) -> String {
        lines.map { $0.trimmingSpacesAndTabs() }.joined(separator: "\n")
    }

    // MARK: Leaf blocks

    struct Fence {
        let marker: Character
        let length: Int
        let indent: Int
        let language: String?

        /// ``` or ~~~ (three or more), up to three columns in; a backtick fence's info
        /// string may not contain a backtick.
        init?(opening line: String) {
            guard let rest = MarkdownLine.content(line), let first = rest.first, first == "`" || first == "~" else { return nil }
            let run = rest.prefix { $0 == first }.count
            let info = rest.dropFirst(run).trimmingSpacesAndTabs()
            guard run >= 3, first == "~" || !info.contains("`") else { return nil }
            marker = first
            length = run
            indent = MarkdownLine.indent(of: line)
            let word = info.prefix { !$0.isWhitespace }
            // Telegram takes the class as is; keep it to what highlighters use.
            let language = String(String.UnicodeScalarView(word.unicodeScalars.filter(Self.languageScalars.contains).prefix(32)))
            self.language = language.isEmpty ? nil : language
        }

        private static let languageScalars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-".unicodeScalars)

        func isClosed(by line: String) -> Bool {
            guard let rest = MarkdownLine.content(line) else { return false }
            let run = rest.prefix { $0 == marker }.count
            return run >= length && rest.dropFirst(run).allSatisfy { $0 == " " || $0 == "\t" }
        }

        /// Follows fences through the lines of a quote or list item (for lazy continuation).
        static func track(_ fence: inout Fence?, _ line: String) {
            if let open = fence {
                if open.isClosed(by: line) { fence = nil }
            } else {
                fence = Fence(opening: line)
            }
        }
    }

    static func atxHeading(_ line: String) -> (level: Int, text: String)? {
        guard let rest = content(line) else { return nil }
        let level = rest.prefix { $0 == "#" }.count
        guard (1...6).contains(level) else { return nil }
        var text = rest.dropFirst(level)
        guard text.isEmpty || text.first == " " || text.first == "\t" else { return nil }
        text = Substring(text.trimmingSpacesAndTabs())
        // An optional closing sequence of #s, preceded by a space.
        let closing = text.reversed().prefix { $0 == "#" }.count
        if closing == text.count {
            text = ""
        } else if closing > 0, text.dropLast(closing).last == " " || text.dropLast(closing).last == "\t" {
            text = text.dropLast(closing)
        }
        return (level, text.trimmingSpacesAndTabs())
    }

    /// Three or more of one of `-`, `*`, `_`, with optional spaces between.
    static func isThematicBreak(_ line: String) -> Bool {
        guard let rest = content(line), let first = rest.first, "-*_".contains(first) else { return false }
        let marks = rest.filter { $0 != " " && $0 != "\t" }
        return marks.count >= 3 && marks.allSatisfy { $0 == first }
    }

    /// `===` (level 1) or `---` (level 2) under a paragraph.
    static func setextLevel(_ line: String) -> Int? {
        guard let rest = content(line), let first = rest.first, first == "=" || first == "-" else { return nil }
        let run = rest.prefix { $0 == first }
        guard rest.dropFirst(run.count).allSatisfy({ $0 == " " || $0 == "\t" }) else { return nil }
        return first == "=" ? 1 : 2
    }

    /// The line after `>` and one optional space, for a quote line.
    static func quoteContent(_ line: String) -> String? {
        guard let rest = content(line), rest.first == ">" else { return nil }
        var after = rest.dropFirst()
        if after.first == " " || after.first == "\t" { after = after.dropFirst() }
        return String(after)
    }

    struct ListMarker: Equatable {
        let ordered: Bool
        let number: Int
        /// Columns before the marker, and where the item's content starts.
        let indent: Int
        let contentIndent: Int
        /// The first line's text after the marker.
        let content: String

        /// `-`, `+`, `*` or 1-9 digits with `.` or `)`, then a space or the line's end.
        init?(_ line: String) {
            guard let rest = MarkdownLine.content(line), let first = rest.first else { return nil }
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            var markerWidth: Int
            if "-+*".contains(first) {
                ordered = false
                number = 1
                markerWidth = 1
            } else if (1...9).contains(digits.count), let delimiter = rest.dropFirst(digits.count).first, delimiter == "." || delimiter == ")" {
                ordered = true
                number = Int(digits) ?? 1
                markerWidth = digits.count + 1
            } else {
                return nil
            }
            let after = rest.dropFirst(markerWidth)
            guard after.isEmpty || after.first == " " || after.first == "\t" else { return nil }
            indent = MarkdownLine.indent(of: line)
            let spaces = MarkdownLine.indent(of: String(after))
            let text = after.trimmingSpacesAndTabs()
            // Five or more spaces: the content is indented code, one space belongs to the marker.
            let gap = text.isEmpty || spaces > 4 ? 1 : spaces
            contentIndent = indent + markerWidth + gap
            content = text.isEmpty ? "" : MarkdownLine.dropIndent(String(after), upTo: gap)
        }
    }

    /// A GFM task item's box at the start of the item's text: `[ ]`, `[x]` or `[X]`, then a
    /// space or tab and the rest.
    static func taskBox(_ text: String) -> (checked: Bool, rest: String)? {
        let scalars = Array(text.unicodeScalars.prefix(4))
        guard scalars.count == 4, scalars[0] == "[", scalars[2] == "]", scalars[3] == " " || scalars[3] == "\t" else { return nil }
        let checked: Bool
        switch scalars[1] {
        case " ": checked = false
        case "x", "X": checked = true
        default: return nil
        }
        return (checked, String(text.unicodeScalars.dropFirst(4)).trimmingSpacesAndTabs())
    }

    /// Whether the line starts a block that may interrupt a paragraph (CommonMark: not an
    /// indented code block, not an empty list item, an ordered list only from 1).
    static func interruptsParagraph(_ line: String) -> Bool {
        if Fence(opening: line) != nil || atxHeading(line) != nil || isThematicBreak(line) || quoteContent(line) != nil {
            return true
        }
        guard let marker = ListMarker(line) else { return false }
        return !marker.content.isEmpty && (!marker.ordered || marker.number == 1)
    }

    // MARK: Tables

    /// A header row with a `|` and a delimiter row (`---`, `:--`, `--:`, `:-:`) with as many cells.
    static func tableStart(_ lines: [String], at index: Int) -> ([String], [MarkdownTable.Alignment])? {
        guard index + 1 < lines.count, indent(of: lines[index]) < 4, indent(of: lines[index + 1]) < 4,
            lines[index].contains("|"), lines[index + 1].contains("-")
        else { return nil }
        let header = tableCells(lines[index])
        let delimiters = tableCells(lines[index + 1])
        guard header.count == delimiters.count else { return nil }
        var alignments: [MarkdownTable.Alignment] = []
        for cell in delimiters {
            let dashes = cell.dropFirst(cell.hasPrefix(":") ? 1 : 0).dropLast(cell.hasSuffix(":") ? 1 : 0)
            guard !dashes.isEmpty, dashes.allSatisfy({ $0 == "-" }) else { return nil }
            switch (cell.hasPrefix(":"), cell.hasSuffix(":")) {
            case (true, true): alignments.append(.center)
            case (false, true): alignments.append(.right)
            default: alignments.append(.left)
            }
        }
        return (header, alignments)
    }

    /// Cells split on `|` that is not escaped; `\|` becomes `|` (also inside code, as in GFM).
    static func tableCells(_ line: String) -> [String] {
        var row = Substring(line.trimmingSpacesAndTabs())
        if row.hasPrefix("|") { row = row.dropFirst() }
        if row.hasSuffix("|"), !row.hasSuffix("\\|") { row = row.dropLast() }
        var cells: [String] = []
        var cell = ""
        var escaped = false
        for character in row {
            if escaped {
                cell += character == "|" ? "|" : "\\" + String(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "|" {
                cells.append(cell.trimmingSpacesAndTabs())
                cell = ""
            } else {
                cell.append(character)
            }
        }
        if escaped { cell += "\\" }
        cells.append(cell.trimmingSpacesAndTabs())
        return cells
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpacesAndTabs() -> String {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }), let last = lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(self[first...last])
    }
}
