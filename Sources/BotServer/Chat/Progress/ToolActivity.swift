import ClaudeRunner

/// One line of what Claude is doing, in words a phone user reads at a glance:
/// "Reading Sources/App.swift", "Running: swift test", "Editing README.md".
enum ToolActivity {
    static func describe(tool name: String, input: JSONValue, project: String) -> String {
        func path(_ key: String = "file_path") -> String {
            relative(input[key]?.string ?? input["path"]?.string ?? "", to: project)
        }
        func quoted(_ key: String) -> String { shorten(input[key]?.string ?? "", to: 60) }
        switch name {
        case "Read": return "Reading " + path()
        case "Write": return "Writing " + path()
        case "Edit", "MultiEdit": return "Editing " + path()
        case "NotebookEdit": return "Editing " + path("notebook_path")
        case "Bash":
            let command = input["command"]?.string ?? ""
            let description = input["description"]?.string
            return "Running: " + shorten(firstLine(command), to: 80) + (description.map { " (\(shorten($0, to: 40)))" } ?? "")
        case "BashOutput": return "Reading a background command's output"
        case "KillShell", "KillBash": return "Stopping a background command"
        case "Grep": return "Searching for “\(quoted("pattern"))”" + (input["path"]?.string.map { " in " + relative($0, to: project) } ?? "")
        case "Glob": return "Finding files " + quoted("pattern")
        case "LS": return "Listing " + path()
        case "WebFetch": return "Fetching " + quoted("url")
        case "WebSearch": return "Searching the web for “\(quoted("query"))”"
        case "Task", "Agent": return "Delegating: " + quoted("description")
        case "TodoWrite": return "Updating the to-do list"
        case "ExitPlanMode": return "Presenting a plan"
        case "AskUserQuestion": return "Asking you a question"
        default:
            if name.hasPrefix("mcp__") {
                let parts = name.split(separator: "_", omittingEmptySubsequences: true)
                return "Using " + parts.dropFirst().joined(separator: " ")
            }
            return "Using " + name
        }
    }

    /// Files a tool changes, with lines added and removed, for the end-of-run card.
    static func fileChange(tool name: String, input: JSONValue, project: String) -> (path: String, added: Int, removed: Int)? {
        guard let filePath = input["file_path"]?.string ?? input["notebook_path"]?.string else { return nil }
        let path = relative(filePath, to: project)
        switch name {
        case "Write":
            return (path, lineCount(input["content"]?.string ?? ""), 0)
        case "Edit":
            return (path, lineCount(input["new_string"]?.string ?? ""), lineCount(input["old_string"]?.string ?? ""))
        case "MultiEdit":
            let edits = input["edits"]?.array ?? []
            return (
                path, edits.reduce(0) { $0 + lineCount($1["new_string"]?.string ?? "") },
                edits.reduce(0) { $0 + lineCount($1["old_string"]?.string ?? "") }
            )
        case "NotebookEdit":
            return (path, lineCount(input["new_source"]?.string ?? ""), 0)
        default:
            return nil
        }
    }

    static func relative(_ path: String, to project: String) -> String {
        guard !path.isEmpty else { return "a file" }
        let prefix = project.hasSuffix("/") ? project : project + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    static func lineCount(_ text: String) -> Int {
        guard !text.isEmpty else { return 0 }
        let newlines = text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        return text.hasSuffix("\n") ? newlines : newlines + 1
    }

    static func firstLine(_ text: String) -> String {
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return text.contains("\n") ? line + " …" : line
    }

    static func shorten(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
