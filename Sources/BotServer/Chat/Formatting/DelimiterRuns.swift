/// Pairs `*`, `_` and `~` runs into emphasis, strong emphasis and strikethrough with
/// CommonMark's "process emphasis" algorithm (spec 0.31, §6.2 and appendix A; GFM for `~`).
///
/// Design: instead of moving nodes into a tree while matching, every run only records the
/// tags it closes (using its leftmost characters) and opens (using its rightmost ones).
/// The algorithm guarantees that pairs nest, so one pass over the nodes then builds the
/// tree: close, the run's leftover characters as text, open. The runs in play are a linked
/// list (CommonMark's delimiter stack), so a paragraph of thousands of runs stays linear;
/// pairs nested deeper than `maxNesting` are left as text, which bounds the recursion of
/// everything that walks the tree.
struct DelimiterRuns {
    enum Kind { case emphasis, strong, strikethrough }

    /// A matched pair: its kind and the delimiter characters it used.
    struct Pair {
        let kind: Kind
        let delimiter: String
    }

    struct Run {
        let character: Character
        let length: Int
        var remaining: Int
        let canOpen: Bool
        let canClose: Bool
        /// Innermost first, both.
        var opens: [Pair] = []
        var closes: [Pair] = []
    }

    static let maxNesting = 16

    private var runs: [Run] = []

    /// Records a run; its flanking (CommonMark §6.2) follows from the characters around it.
    mutating func add(_ character: Character, length: Int, before: Character?, after: Character?) -> Int {
        let spaceBefore = before?.isWhitespace ?? true
        let spaceAfter = after?.isWhitespace ?? true
        let punctuationBefore = before.map(Self.isPunctuation) ?? false
        let punctuationAfter = after.map(Self.isPunctuation) ?? false
        let left = !spaceAfter && (!punctuationAfter || spaceBefore || punctuationBefore)
        let right = !spaceBefore && (!punctuationBefore || spaceAfter || punctuationAfter)
        // `_` does not open or close inside a word: snake_case stays as it is.
        let canOpen = character == "_" ? left && (!right || punctuationBefore) : left
        let canClose = character == "_" ? right && (!left || punctuationAfter) : right
        runs.append(Run(character: character, length: length, remaining: length, canOpen: canOpen, canClose: canClose))
        return runs.count - 1
    }

    private static func isPunctuation(_ character: Character) -> Bool {
        character.isPunctuation || character.isSymbol
    }

    /// Matches the runs, then builds the tree of `nodes`.
    mutating func resolve(_ nodes: [InlineScanner.Node]) -> [MarkdownInline] {
        match()
        return tree(nodes)
    }

    private struct BottomKey: Hashable {
        let character: Character
        let closerCanOpen: Bool
        let lengthModulo3: Int
    }

    private mutating func match() {
        // The runs still in play, as a doubly linked list over run indices (-1 and
        // runs.count end it).
        var previous = Array(-1..<(runs.count - 1))
        var next = Array(1...max(1, runs.count))
        func remove(_ index: Int) {
            if previous[index] >= 0 { next[previous[index]] = next[index] }
            if next[index] < runs.count { previous[next[index]] = previous[index] }
        }
        var openersBottom: [BottomKey: Int] = [:]  // search no lower than this run index
        var current = 0
        while current < runs.count {
            let closer = runs[current]
            guard closer.canClose else {
                current = next[current]
                continue
            }
            let key = BottomKey(character: closer.character, closerCanOpen: closer.canOpen, lengthModulo3: closer.length % 3)
            let bottom = openersBottom[key] ?? -1
            var candidate = previous[current]
            while candidate > bottom, !(runs[candidate].character == closer.character && runs[candidate].canOpen && Self.pairs(runs[candidate], closer)) {
                candidate = previous[candidate]
            }
            guard candidate > bottom else {
                openersBottom[key] = previous[current]
                let following = next[current]
                if !closer.canOpen { remove(current) }
                current = following
                continue
            }
            let opener = candidate
            let kind: Kind
            let used: Int
            if closer.character == "~" {
                (kind, used) = (.strikethrough, closer.remaining)
            } else if runs[opener].remaining >= 2 && closer.remaining >= 2 {
                (kind, used) = (.strong, 2)
            } else {
                (kind, used) = (.emphasis, 1)
            }
            let pair = Pair(kind: kind, delimiter: String(repeating: closer.character, count: used))
            runs[opener].remaining -= used
            runs[opener].opens.append(pair)
            runs[current].remaining -= used
            runs[current].closes.append(pair)
            // Runs between the pair can no longer match anything.
            var between = next[opener]
            while between != current {
                let following = next[between]
                remove(between)
                between = following
            }
            if runs[opener].remaining == 0 { remove(opener) }
            if runs[current].remaining == 0 {
                let following = next[current]
                remove(current)
                current = following
            }
        }
    }

    /// `~` pairs only with a run of the same length; `*` and `_` follow the rule of 3.
    private static func pairs(_ opener: Run, _ closer: Run) -> Bool {
        if closer.character == "~" { return opener.remaining == closer.remaining }
        if (opener.canClose || closer.canOpen), (opener.length + closer.length) % 3 == 0 {
            return opener.length % 3 == 0 && closer.length % 3 == 0
        }
        return true
    }

    private func tree(_ nodes: [InlineScanner.Node]) -> [MarkdownInline] {
        // A frame per open pair; nil for one nested too deep, whose delimiters stay text.
        // Text is collected per frame and becomes a node when something else follows.
        var frames: [(pair: Pair?, children: [MarkdownInline], text: String)] = [(nil, [], "")]
        func flush() {
            guard !frames[frames.count - 1].text.isEmpty else { return }
            frames[frames.count - 1].children.append(.text(frames[frames.count - 1].text))
            frames[frames.count - 1].text = ""
        }
        func add(_ inline: MarkdownInline) {
            if case .text(let text) = inline {
                frames[frames.count - 1].text += text
            } else {
                flush()
                frames[frames.count - 1].children.append(inline)
            }
        }
        func close(_ pair: Pair) {
            flush()
            let frame = frames.removeLast()
            switch frame.pair?.kind {
            case .emphasis: add(.emphasis(frame.children))
            case .strong: add(.strong(frame.children))
            case .strikethrough: add(.strikethrough(frame.children))
            case nil:
                frame.children.forEach(add)
                add(.text(pair.delimiter))
            }
        }
        for node in nodes {
            switch node {
            case .inline(let inline):
                add(inline)
            case .delimiter(let index):
                let run = runs[index]
                for pair in run.closes where frames.count > 1 { close(pair) }
                if run.remaining > 0 { add(.text(String(repeating: run.character, count: run.remaining))) }
                for pair in run.opens.reversed() {
                    if frames.count > Self.maxNesting {
                        add(.text(pair.delimiter))
                        flush()
                        frames.append((nil, [], ""))
                    } else {
                        flush()
                        frames.append((pair, [], ""))
                    }
                }
            }
        }
        while frames.count > 1 { close(Pair(kind: .emphasis, delimiter: "")) }  // not reached: every pair closes
        flush()
        return frames[0].children
    }
}
