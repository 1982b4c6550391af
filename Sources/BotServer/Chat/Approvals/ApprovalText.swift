import ClaudeRunner

/// How a permission request reads on a phone: what Claude wants to do in one line, then
/// the one thing to look at (the command, the diff, the URL, or formatted JSON for anything
/// else), each shown once; always escaped and short enough for one message.
enum ApprovalText {
    static let previewLength = 1500
    /// The last line of an open question; the decided message drops it (a reply then no
    /// longer denies anything).
    static let replyHint = "\n<i>Reply to this message to deny it with a reason.</i>"

    static func question(_ request: PermissionRequest, project: String) -> String {
        if request.toolName == "ExitPlanMode" {
            let plan = request.plan ?? request.input["plan"]?.string ?? ""
            let visible = StyledText(html: TelegramHTML.render(markdown: plan))
            let chunk = MessageSplitter(maxLength: 3500).ranges(of: visible, markup: .html, maxChunks: 1).first.map(visible.html) ?? ""
            return "📋 <b>Claude has a plan</b>\n\n" + chunk
        }
        let input = request.input
        func file(_ key: String = "file_path") -> String {
            "<code>" + TelegramHTML.escape(ToolActivity.relative(input[key]?.string ?? input["path"]?.string ?? "", to: project)) + "</code>"
        }
        var lines: [String]
        switch request.toolName {
        case "Bash":
            lines = ["🔐 <b>Claude wants to run:</b>", code(input["command"]?.string ?? "", language: "bash")]
        case "Write":
            let content = input["content"]?.string ?? ""
            let count = ToolActivity.lineCount(content)
            lines = ["🔐 <b>Claude wants to write</b> \(file()) (\(count) line\(count == 1 ? "" : "s")):", code(content, language: nil)]
        case "Edit":
            lines = [
                "🔐 <b>Claude wants to edit</b> \(file())",
                code(diffPreview(old: input["old_string"]?.string ?? "", new: input["new_string"]?.string ?? ""), language: "diff"),
            ]
        case "MultiEdit":
            let edits = input["edits"]?.array ?? []
            let diff = edits.map { diffPreview(old: $0["old_string"]?.string ?? "", new: $0["new_string"]?.string ?? "") }.joined(separator: "\n⋯\n")
            lines = ["🔐 <b>Claude wants to edit</b> \(file())", code(diff, language: "diff")]
        case "NotebookEdit":
            lines = ["🔐 <b>Claude wants to edit</b> \(file("notebook_path"))", code(input["new_source"]?.string ?? "", language: nil)]
        case "WebFetch":
            let url = TelegramHTML.escape(ToolActivity.shorten(input["url"]?.string ?? "", to: 400))
            lines = ["🔐 <b>Claude wants to fetch</b> <code>\(url)</code>"]
        default:
            // Other tools: the progress line's words ("Using github create_issue") and the input.
            let action = ToolActivity.describe(tool: request.toolName, input: input, project: project)
            lines = ["🔐 <b>Claude wants to: \(TelegramHTML.escape(action))</b>", code(pretty(input), language: "json")]
        }
        // The CLI's description of a file tool's request is the file's name, shown above
        // already; a command's is what it is for.
        let description = switch request.toolName {
        case "Write", "Edit", "MultiEdit", "NotebookEdit", "WebFetch": nil as String?
        case "Bash": request.description ?? input["description"]?.string
        default: request.description
        }
        if let description, !description.isEmpty {
            lines.append("<i>\(TelegramHTML.escape(ToolActivity.shorten(description, to: 300)))</i>")
        }
        return lines.joined(separator: "\n") + replyHint
    }

    /// The question as it stays once decided: without the reply hint.
    static func decided(_ question: String) -> String {
        question.hasSuffix(replyHint) ? String(question.dropLast(replyHint.count)) : question
    }

    /// What "always" remembers for this request: the tool, or for Bash the command's first
    /// words; nil when a rule would be unsafe (a Bash command that chains or redirects).
    static func ruleFor(_ request: PermissionRequest) -> (tool: String, pattern: String)? {
        switch request.toolName {
        case "ExitPlanMode", "AskUserQuestion": return nil
        case "Bash":
            guard let prefix = BashPrefix.of(request.input["command"]?.string ?? "") else { return nil }
            return ("Bash", prefix)
        default:
            return (request.toolName, "")
        }
    }

    static func describe(_ rule: (tool: String, pattern: String)) -> String {
        rule.pattern.isEmpty ? "\(rule.tool) in this project" : "\(rule.pattern) …"
    }

    static func describe(_ rule: PermissionRule) -> String { describe((rule.tool, rule.pattern)) }

    static func code(_ text: String, language: String?) -> String {
        let shown = text.count > previewLength ? String(text.prefix(previewLength)) + "\n…" : text
        let open = language.map { "<pre><code class=\"language-\($0)\">" } ?? "<pre>"
        return open + TelegramHTML.escape(shown) + (language == nil ? "</pre>" : "</code></pre>")
    }

    static func diffPreview(old: String, new: String) -> String {
        let removed = old.split(separator: "\n", omittingEmptySubsequences: false).map { "- " + $0 }
        let added = new.split(separator: "\n", omittingEmptySubsequences: false).map { "+ " + $0 }
        return (removed + added).joined(separator: "\n")
    }

    /// Indented JSON, keys sorted, long strings cut: readable on a phone.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .object(let fields) where fields.isEmpty: return "{}"
        case .object(let fields):
            let body = fields.keys.sorted().map { inner + "\"\($0)\": " + pretty(fields[$0]!, indent: inner) }
            return "{\n" + body.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items) where items.isEmpty: return "[]"
        case .array(let items):
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .string(let text):
            return JSONValue.string(ToolActivity.shorten(text, to: 300)).description
        default:
            return value.description
        }
    }
}

/// AskUserQuestion's questions as buttons: one choice per question, or several with Done.
struct QuestionPicker: Sendable {
    struct Option: Sendable {
        let label: String
        let description: String?
    }

    struct Question: Sendable {
        let text: String
        let options: [Option]
        let multiSelect: Bool
    }

    let questions: [Question]
    private(set) var selections: [Set<Int>]
    private(set) var done: [Bool]

    init(input: JSONValue) {
        questions = (input["questions"]?.array ?? []).map { question in
            Question(
                text: question["question"]?.string ?? "",
                options: (question["options"]?.array ?? []).map { Option(label: $0["label"]?.string ?? "", description: $0["description"]?.string) },
                multiSelect: question["multiSelect"]?.bool ?? false)
        }
        selections = Array(repeating: [], count: questions.count)
        done = Array(repeating: false, count: questions.count)
    }

    /// `option` nil: Done for a multi-select question.
    mutating func pick(question: Int, option: Int?) {
        guard questions.indices.contains(question) else { return }
        guard let option else {
            done[question] = !selections[question].isEmpty
            return
        }
        guard questions[question].options.indices.contains(option) else { return }
        if questions[question].multiSelect {
            if selections[question].contains(option) { selections[question].remove(option) } else { selections[question].insert(option) }
            done[question] = false
        } else {
            selections[question] = [option]
            done[question] = true
        }
    }

    var isComplete: Bool { !questions.isEmpty && done.allSatisfy { $0 } }

    /// The labels picked for each question: one label, or several joined with ", ".
    var answers: [String: String] {
        var result: [String: String] = [:]
        for (index, question) in questions.enumerated() where !selections[index].isEmpty {
            result[question.text] = selections[index].sorted().map { question.options[$0].label }.joined(separator: ", ")
        }
        return result
    }

    /// The tool's input with `answers`, the shape the CLI expects back.
    func answeredInput(_ input: JSONValue) -> JSONValue {
        guard case .object(var fields) = input else { return input }
        fields["answers"] = .object(answers.mapValues(JSONValue.string))
        return .object(fields)
    }

    var summary: String {
        questions.map { "\($0.text) → \(answers[$0.text] ?? "—")" }.joined(separator: "; ")
    }

    var text: String {
        var lines = ["❓ <b>Claude asks</b>"]
        for (index, question) in questions.enumerated() {
            lines.append("")
            lines.append("<b>" + TelegramHTML.escape(question.text) + "</b>" + (question.multiSelect ? " <i>(pick any, then Done)</i>" : ""))
            for (optionIndex, option) in question.options.enumerated() {
                let mark = selections[index].contains(optionIndex) ? "✓" : "•"
                lines.append("\(mark) " + TelegramHTML.escape(option.label + (option.description.map { " — " + $0 } ?? "")))
            }
        }
        return lines.joined(separator: "\n")
    }
}
