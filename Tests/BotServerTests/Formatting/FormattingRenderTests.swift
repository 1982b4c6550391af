import Testing

@testable import BotServer

@Suite struct FormattingRenderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let markdown: String
        let html: String
        var testDescription: String { name }

        init(_ name: String, _ markdown: String, _ html: String) {
            self.name = name
            self.markdown = markdown
            self.html = html
        }
    }

    static let cases: [Case] = [
        // Inline
        Case("plain text", "Hello, world.", "Hello, world."),
        Case("bold", "Hello **world** and __this__", "Hello <b>world</b> and <b>this</b>"),
        Case("italic", "*one* and _two_", "<i>one</i> and <i>two</i>"),
        Case("underscores inside words", "snake_case_name and __init__ and a_b_", "snake_case_name and <b>init</b> and a_b_"),
        Case("stars that are not emphasis", "2 * 3 * 4 and a ** b", "2 * 3 * 4 and a ** b"),
        Case("intraword star emphasis", "un*believ*able", "un<i>believ</i>able"),
        Case("strikethrough", "~~gone~~ and ~this~ but not ~~~that~~~", "<s>gone</s> and <s>this</s> but not ~~~that~~~"),
        Case("strong inside emphasis", "***both*** and **bold *nested* bold**", "<i><b>both</b></i> and <b>bold <i>nested</i> bold</b>"),
        Case("unmatched delimiters", "**open and *half", "**open and *half"),
        Case("escaped delimiters", #"\*not italic\* and \_no\_ and \`no code\`"#, "*not italic* and _no_ and `no code`"),
        Case("backslash before a letter stays", #"C:\path\to"#, #"C:\path\to"#),
        Case("inline code", "run `ls -la` now", "run <code>ls -la</code> now"),
        Case("inline code with HTML", "`a < b && c > d`", "<code>a &lt; b &amp;&amp; c &gt; d</code>"),
        Case("double backticks around a backtick", "``code with ` inside``", "<code>code with ` inside</code>"),
        Case("code span with padding", "`` `x` ``", "<code>`x`</code>"),
        Case("unclosed backtick", "an `unclosed tick", "an `unclosed tick"),
        Case("emphasis does not reach into code", "*a `*` b*", "<i>a <code>*</code> b</i>"),
        Case("bold code", "**`main.swift`**", "<b><code>main.swift</code></b>"),
        Case("HTML-looking text", "<div>hi</div> <b>not bold</b>", "&lt;div&gt;hi&lt;/div&gt; &lt;b&gt;not bold&lt;/b&gt;"),
        Case("comparisons and ampersands", "a < b && c > d; &amp; stays &amp;", "a &lt; b &amp;&amp; c &gt; d; &amp;amp; stays &amp;amp;"),
        Case("quotes in text are not escaped", #"say "hi" & 'bye'"#, #"say "hi" &amp; 'bye'"#),
        Case("link", "see [the docs](https://example.com/docs)", #"see <a href="https://example.com/docs">the docs</a>"#),
        Case(
            "link with & and quotes", #"[q](https://example.com/?a=1&b="2"&c='3')"#,
            #"<a href="https://example.com/?a=1&amp;b=&quot;2&quot;&amp;c='3'">q</a>"#),
        Case("link with title and parentheses", #"[w](https://en.wikipedia.org/wiki/Swift_(language) "Swift")"#, #"<a href="https://en.wikipedia.org/wiki/Swift_(language)">w</a>"#),
        Case("link in angle brackets", "[x](<https://example.com/a b>)", "x"),
        Case("formatted link label", "[**bold** link](https://x.io)", #"<a href="https://x.io"><b>bold</b> link</a>"#),
        Case("code inside a link is plain", "[`Foo.swift`](https://x.io/Foo.swift)", #"<a href="https://x.io/Foo.swift">Foo.swift</a>"#),
        Case("relative link shows its label", "open [`Foo.swift`](Sources/Foo.swift#L12)", "open <code>Foo.swift</code>"),
        Case("javascript link is text", "[click](javascript:alert(1))", "click"),
        Case("tg and mailto links", "[me](tg://user?id=42) [mail](mailto:a@b.co)", #"<a href="tg://user?id=42">me</a> <a href="mailto:a@b.co">mail</a>"#),
        Case("image becomes a link", "![diagram](https://x.io/d.png)", #"<a href="https://x.io/d.png">diagram</a>"#),
        Case("empty link label shows the URL", "[](https://x.io)", #"<a href="https://x.io">https://x.io</a>"#),
        Case("autolink", "<https://example.com/a_b?c=1&d=2>", #"<a href="https://example.com/a_b?c=1&amp;d=2">https://example.com/a_b?c=1&amp;d=2</a>"#),
        Case("email autolink", "<me@example.com>", #"<a href="mailto:me@example.com">me@example.com</a>"#),
        Case("not an autolink", "<not a link> and <div>", "&lt;not a link&gt; and &lt;div&gt;"),
        Case("brackets that are not links", "array[0] and [x] (y)", "array[0] and [x] (y)"),
        Case("emoji: ZWJ, flags, skin tones, surrogate pairs", "👨‍👩‍👧‍👦 🇺🇦🇯🇵 👍🏽 **😀𝄞**", "👨‍👩‍👧‍👦 🇺🇦🇯🇵 👍🏽 <b>😀𝄞</b>"),
        Case("emphasis next to emoji", "*🙂*_🙂_", "<i>🙂</i><i>🙂</i>"),
        Case("soft line breaks are kept", "line one\nline two  \nline three\\\nfour", "line one\nline two\nline three\nfour"),
        Case("CRLF line ends", "a\r\nb\r\n\r\nc", "a\nb\n\nc"),
        Case("NUL is replaced", "a\u{0}b", "a\u{FFFD}b"),

        // Blocks
        Case("paragraphs", "one\n\n\n\ntwo", "one\n\ntwo"),
        Case("headings", "# Title\n\nText\n\n### Sub `x` ###", "<b>Title</b>\n\nText\n\n<b>Sub <code>x</code></b>"),
        Case("setext headings", "Title\n=====\nSub\n---\ntext", "<b>Title</b>\n\n<b>Sub</b>\n\ntext"),
        Case("not a heading", "#hashtag and #5", "#hashtag and #5"),
        Case("heading with bold", "## **Bold** heading", "<b><b>Bold</b> heading</b>"),
        Case("fenced code", "```swift\nlet x = a < b && c\n```", #"<pre><code class="language-swift">let x = a &lt; b &amp;&amp; c</code></pre>"#),
        Case("fence without language", "```\nplain\n\n  code\n```", "<pre>plain\n\n  code</pre>"),
        Case(
            "fence with backticks inside", "````markdown\n```swift\nprint(1)\n```\n````",
            #"<pre><code class="language-markdown">```swift"# + "\nprint(1)\n```</code></pre>"),
        Case("tilde fence", "~~~\ncode ~~~ here\n```\n~~~", "<pre>code ~~~ here\n```</pre>"),
        Case("language is sanitized", "```c++ {.numberLines}\nx\n```\n\n```\"><b onclick=x>\ny\n```",
            #"<pre><code class="language-c++">x</code></pre>"# + "\n\n" + #"<pre><code class="language-b">y</code></pre>"#),
        Case("unclosed fence runs to the end", "```python\nprint('hi')\n\nmore", #"<pre><code class="language-python">print('hi')"# + "\n\nmore</code></pre>"),
        Case("indented fence content", "  ```\n  a\n    b\n  ```", "<pre>a\n  b</pre>"),
        Case("HTML in code is escaped", "```html\n<div class=\"x\">&nbsp;</div>\n```", #"<pre><code class="language-html">&lt;div class="x"&gt;&amp;nbsp;&lt;/div&gt;</code></pre>"#),
        Case("indented code", "Para\n\n    code line\n      more\n\n    after blank\n\nnext", "Para\n\n<pre>code line\n  more\n\nafter blank</pre>\n\nnext"),
        Case("indented line continues a paragraph", "Para\n    not code", "Para\nnot code"),
        Case("empty code block is left out", "a\n\n```\n```\n\nb", "a\n\nb"),
        Case("bullet list", "- one\n- two\n* three\n+ four", "• one\n• two\n• three\n• four"),
        Case("nested lists", "- a\n- b\n  - c\n    - d\n  - e\n- f", "• a\n• b\n  • c\n    • d\n  • e\n• f"),
        Case("ordered list", "1. one\n2. two\n   - sub\n3. three", "1. one\n2. two\n   • sub\n3. three"),
        Case("ordered list start", "3) three\n4) four", "3. three\n4. four"),
        Case("list nested two columns in", "1. a\n  - b\n  - c\n2. d", "1. a\n   • b\n   • c\n2. d"),
        Case("list nested four columns in", "- a\n    - b\n        - c", "• a\n  • b\n    • c"),
        Case("list after a paragraph", "Steps:\n1. one\n2. two", "Steps:\n\n1. one\n2. two"),
        Case("number in a paragraph is not a list", "The year\n2024. was good", "The year\n2024. was good"),
        Case("loose list and continuation", "- a\n\n  more about a\n- b\nlazy line", "• a\n  more about a\n• b\n  lazy line"),
        Case(
            "code in a list item", "1. Run:\n   ```sh\n   make <target>\n   ```\n2. Done",
            "1. Run:\n   " + #"<pre><code class="language-sh">make &lt;target&gt;</code></pre>"# + "\n2. Done"),
        Case("formatted list items", "- **bold** item\n- `code` item", "• <b>bold</b> item\n• <code>code</code> item"),
        Case("empty item", "-\n- x", "•\n• x"),
        Case("task list", "- [ ] to do\n- [x] done\n* [X] **also** done", "☐ to do\n☑ done\n☑ <b>also</b> done"),
        Case("nested task list", "- [ ] parent\n  - [x] child\n    more", "☐ parent\n  ☑ child\n    more"),
        Case(
            "not a task box", "- [ ]\n- [y] no\n- [x]no\n- \\[ ] escaped\n1. [x] numbered",
            "• [ ]\n• [y] no\n• [x]no\n• [ ] escaped\n\n1. [x] numbered"),
        Case("block quote", "> quoted **text**\n> more", "<blockquote>quoted <b>text</b>\nmore</blockquote>"),
        Case("lazy quote line", "> quoted\nlazy\n\nafter", "<blockquote>quoted\nlazy</blockquote>\n\nafter"),
        Case("nested quotes are flattened", "> a\n>> b\n> > c", "<blockquote>a\n\nb\nc</blockquote>"),
        Case("quote with a list and code", "> - x\n> ```\n> y\n> ```", "<blockquote>• x\n\n<pre>y</pre></blockquote>"),
        Case("quote in a list", "- item\n  > quoted", "• item\n  <blockquote>quoted</blockquote>"),
        Case("horizontal rules", "a\n\n---\n\n***\n_ _ _\nb", "a\n\n———\n\n———\n\n———\n\nb"),
        Case(
            "table", "| Name | Qty |\n|:-----|----:|\n| apple | 3 |\n| kiwi | 12 |",
            "<pre>Name  | Qty\n------+----\napple |   3\nkiwi  |  12</pre>"),
        Case(
            "table after a paragraph, with formatting, escapes and missing cells", "Results:\n| a | b | c |\n|---|:-:|---|\n| **x** | `p\\|q` | [l](https://x.io) |\n| 1 |",
            "Results:\n\n<pre>a |  b  | c\n--+-----+--\nx | p|q | l\n1 |     |</pre>"),
        Case(
            "table with wide characters", "|k|v|\n|-|-|\n|日本|1|\n|😀|22|\n|ab|3|",
            "<pre>k    | v\n-----+---\n日本 | 1\n😀   | 22\nab   | 3</pre>"),
        Case("table needs its delimiter row", "a | b\nc | d", "a | b\nc | d"),
        Case("table with HTML", "| x |\n|---|\n| <b> & |", "<pre>x\n-----\n&lt;b&gt; &amp;</pre>"),
        Case("HTML block is text", "<div>\n<p>x</p>\n</div>", "&lt;div&gt;\n&lt;p&gt;x&lt;/p&gt;\n&lt;/div&gt;"),
        Case("HTML comment is text", "<!-- note -->", "&lt;!-- note --&gt;"),
        Case("whitespace only", "  \n\n \t ", ""),
    ]

    @Test(arguments: cases) func rendersMarkdown(_ example: Case) {
        #expect(TelegramHTML.render(markdown: example.markdown) == example.html)
    }

    @Test func linksOnlyForSafeSchemes() {
        #expect(TelegramHTML.linkTarget("https://x.io") == "https://x.io")
        #expect(TelegramHTML.linkTarget("HTTP://X.IO") == "HTTP://X.IO")
        #expect(TelegramHTML.linkTarget("tg://resolve?domain=x") != nil)
        #expect(TelegramHTML.linkTarget("mailto:a@b.c") != nil)
        for refused in ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "ftp://x", "/relative", "https://x.io/a b", "https://x.io/\u{0}"] {
            #expect(TelegramHTML.linkTarget(refused) == nil, "\(refused)")
        }
        #expect(TelegramHTML.linkTarget("https://x.io/" + String(repeating: "a", count: 2100)) == nil)
    }
}
