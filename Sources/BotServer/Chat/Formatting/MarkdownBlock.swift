/// The block structure of a Markdown answer: the part of GitHub-flavoured Markdown that a
/// model writes (paragraphs, ATX and setext headings, fenced and indented code, quotes,
/// nested lists, tables, rules). Inline text stays source text here; `MarkdownInline`
/// parses it when it is rendered.
///
/// Design: a line-oriented, recursive parser instead of CommonMark's container state
/// machine. A quote or list item collects its lines, strips its marker or indentation and
/// parses them again as a document. What it does not model (HTML blocks, link reference
/// definitions) is an ordinary paragraph, so it is shown as text. Two leniencies suit model
/// output: a line indented two columns past a list marker belongs to that item (so
/// `1. x` / `  - y` nests), and a table ends at the first line without a `|`.
indirect enum MarkdownBlock: Equatable, Sendable {
    /// Inline source; the paragraph's lines joined by "\n" (line breaks are kept: a chat
    /// message has no reflow).
    case paragraph(String)
    case heading(level: Int, text: String)
    /// Fenced (with the info string's first word) or indented code, without the last newline.
    case code(language: String?, text: String)
    case quote([MarkdownBlock])
    case list(ordered: Bool, start: Int, items: [[MarkdownBlock]])
    case table(MarkdownTable)
    case rule

    static func parse(_ markdown: String) -> [MarkdownBlock] {
        MarkdownBlockParser.blocks(MarkdownLine.lines(of: markdown), depth: 0)
    }
}

struct MarkdownTable: Equatable, Sendable {
    enum Alignment: Equatable, Sendable { case left, center, right }
    var alignments: [Alignment]
    /// Inline source of each cell.
    var header: [String]
    var rows: [[String]]
}

enum MarkdownBlockParser {
    /// Quotes and lists nested deeper than this are text: it bounds the recursion, and the
    /// work, since every level copies its lines.
    static let maxDepth = 16

    static func blocks(_ lines: [String], depth: Int) -> [MarkdownBlock] {
        var blocks: [MarkdownBlock] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if MarkdownLine.isBlank(line) {
                index += 1
            } else if let fence = MarkdownLine.Fence(opening: line) {
                blocks.append(fencedCode(fence, lines, &index))
            } else if MarkdownLine.indent(of: line) >= 4 {
                blocks.append(indentedCode(lines, &index))
            } else if let heading = MarkdownLine.atxHeading(line) {
                blocks.append(.heading(level: heading.level, text: heading.text))
                index += 1
            } else if MarkdownLine.isThematicBreak(line) {
                blocks.append(.rule)
                index += 1
            } else if depth < maxDepth, MarkdownLine.quoteContent(line) != nil {
                blocks.append(quote(lines, &index, depth: depth))
            } else if depth < maxDepth, let marker = MarkdownLine.ListMarker(line) {
                blocks.append(list(first: marker, lines, &index, depth: depth))
            } else if let table = table(lines, &index) {
                blocks.append(.table(table))
            } else {
                blocks.append(paragraph(lines, &index))
            }
        }
        return blocks
    }

    private static func fencedCode(_ fence: MarkdownLine.Fence, _ lines: [String], _ index: inout Int) -> MarkdownBlock {
        var body: [String] = []
        index += 1
        while index < lines.count {
            if fence.isClosed(by: lines[index]) {
                index += 1
                break
            }
            body.append(MarkdownLine.dropIndent(lines[index], upTo: fence.indent))
            index += 1
        }
        return .code(language: fence.language, text: body.joined(separator: "\n"))
    }

    private static func indentedCode(_ lines: [String], _ index: inout Int) -> MarkdownBlock {
        var body: [String] = []
        while index < lines.count, MarkdownLine.isBlank(lines[index]) || MarkdownLine.indent(of: lines[index]) >= 4 {
            body.append(MarkdownLine.dropIndent(lines[index], upTo: 4))
            index += 1
        }
        while let last = body.last, MarkdownLine.isBlank(last) { body.removeLast() }
        return .code(language: nil, text: body.joined(separator: "\n"))
    }

    /// `>` lines, plus lazy continuation lines of a quoted paragraph.
    private static func quote(_ lines: [String], _ index: inout Int, depth: Int) -> MarkdownBlock {
        var body: [String] = []
        var fence: MarkdownLine.Fence?
        while index < lines.count {
            let line = lines[index]
            if let content = MarkdownLine.quoteContent(line) {
                body.append(content)
            } else if fence == nil, let last = body.last, !MarkdownLine.isBlank(last), !MarkdownLine.isBlank(line),
                !MarkdownLine.interruptsParagraph(line)
            {
                body.append(line)
            } else {
                break
            }
            MarkdownLine.Fence.track(&fence, body[body.count - 1])
            index += 1
        }
        return .quote(blocks(body, depth: depth + 1))
    }

    private static func list(first: MarkdownLine.ListMarker, _ lines: [String], _ index: inout Int, depth: Int) -> MarkdownBlock {
        var items: [[MarkdownBlock]] = []
        var marker = first
        while true {
            items.append(blocks(item(marker, lines, &index), depth: depth + 1))
            // Blank lines between items keep the list going.
            var next = index
            while next < lines.count, MarkdownLine.isBlank(lines[next]) { next += 1 }
            guard next < lines.count, !MarkdownLine.isThematicBreak(lines[next]), let sibling = MarkdownLine.ListMarker(lines[next]),
                sibling.ordered == first.ordered
            else { break }
            marker = sibling
            index = next
        }
        return .list(ordered: first.ordered, start: first.number, items: items)
    }

    /// The lines of one item, its indentation removed.
    private static func item(_ marker: MarkdownLine.ListMarker, _ lines: [String], _ index: inout Int) -> [String] {
        var body = [marker.content]
        var fence: MarkdownLine.Fence?
        MarkdownLine.Fence.track(&fence, marker.content)
        // Lines indented this far belong to the item (the content column, or two past the marker).
        let belongs = min(marker.contentIndent, marker.indent + 2)
        index += 1
        while index < lines.count {
            let line = lines[index]
            if MarkdownLine.isBlank(line) {
                var next = index
                while next < lines.count, MarkdownLine.isBlank(lines[next]) { next += 1 }
                guard next < lines.count, MarkdownLine.indent(of: lines[next]) >= belongs else { break }
                body += Array(repeating: "", count: next - index)
                index = next
                continue
            }
            let indent = MarkdownLine.indent(of: line)
            if indent >= belongs {
                body.append(MarkdownLine.dropIndent(line, upTo: min(indent, marker.contentIndent)))
            } else if fence == nil, let last = body.last, !MarkdownLine.isBlank(last), !MarkdownLine.interruptsParagraph(line),
                MarkdownLine.ListMarker(line) == nil
            {
                body.append(line)  // lazy continuation of the item's paragraph
            } else {
                break
            }
            MarkdownLine.Fence.track(&fence, body[body.count - 1])
            index += 1
        }
        return body
    }

    /// A header row, a delimiter row with as many cells, then rows up to a blank line, a
    /// line without `|` or the start of another block.
    private static func table(_ lines: [String], _ index: inout Int) -> MarkdownTable? {
        guard let (header, alignments) = MarkdownLine.tableStart(lines, at: index) else { return nil }
        var rows: [[String]] = []
        index += 2
        while index < lines.count, MarkdownLine.indent(of: lines[index]) < 4, lines[index].contains("|"),
            !MarkdownLine.interruptsParagraph(lines[index])
        {
            var cells = MarkdownLine.tableCells(lines[index])
            cells = Array(cells.prefix(header.count)) + Array(repeating: "", count: max(0, header.count - cells.count))
            rows.append(cells)
            index += 1
        }
        return MarkdownTable(alignments: alignments, header: header, rows: rows)
    }

    /// Lines up to a blank line or a block that may interrupt a paragraph; a setext
    /// underline turns them into a heading.
    private static func paragraph(_ lines: [String], _ index: inout Int) -> MarkdownBlock {
        var body = [lines[index]]
        index += 1
        while index < lines.count {
            let line = lines[index]
            if let level = MarkdownLine.setextLevel(line) {
                index += 1
                return .heading(level: level, text: MarkdownLine.joinParagraph(body))
            }
            if MarkdownLine.isBlank(line) || MarkdownLine.interruptsParagraph(line)
                || MarkdownLine.tableStart(lines, at: index) != nil
            {
                break
            }
            body.append(line)
            index += 1
        }
        return .paragraph(MarkdownLine.joinParagraph(body))
    }
}
