import ClaudeRunner
import FoundationEssentials
import Logging

/// Asks Claude for a one-line commit message from a diff, in a throwaway session of its own
/// (so the conversation's session does not fill with commit chores), with no tools.
struct CommitMessageWriter: Sendable {
    let configuration: ClaudeConfiguration
    let logger: Logger

    /// Refuses every tool: writing a message needs none.
    private struct NoTools: PermissionDelegate {
        func decide(_ request: PermissionRequest) async -> PermissionDecision {
            .deny(message: "No tools: answer with the commit message only.")
        }
        func withdraw(_ requestID: String) async {}
    }

    static let toolsOff = ["Bash", "Write", "Edit", "MultiEdit", "NotebookEdit", "WebFetch", "WebSearch", "Task", "Agent", "Read", "Glob", "Grep"]

    func message(project: String, model: String?, stat: String, patch: String) async -> Result<String, RunFailure> {
        var options = SessionOptions(workingDirectory: project, sessionID: UUID().uuidString.lowercased(), resume: false)
        options.model = model
        options.maxTurns = 1
        options.disallowedTools = Self.toolsOff
        let session = ClaudeSession(configuration: configuration, options: options, delegate: NoTools(), logger: logger)
        let prompt = """
            Write a git commit message for the change below: one line, imperative mood, at most 72 \
            characters, no quotes, no trailing period. Answer with the line only.

            \(stat)

            \(patch.count > 20_000 ? String(patch.prefix(20_000)) + "\n[diff cut]" : patch)
            """
        defer { Task { await session.stop() } }
        do {
            let events = try await session.send(.text(prompt))
            for await event in events {
                guard case .finished(let outcome) = event else { continue }
                switch outcome {
                case .result(let result):
                    if let failure = RunFailure.from(result: result) { return .failure(failure) }
                    let line = Self.firstLine(result.result ?? "")
                    return line.isEmpty ? .failure(RunFailure(kind: .apiError, message: "Claude gave no message.")) : .success(line)
                case .failed(let error):
                    return .failure(RunFailure.from(error: error))
                }
            }
        } catch {
            return .failure(RunFailure.from(error: error))
        }
        return .failure(RunFailure(kind: .crashed, message: "Claude Code ended without an answer."))
    }

    /// The first non-empty line, without Markdown quoting, at most 100 characters.
    static func firstLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).map { String($0).trimmingWhitespace() }.first { !$0.isEmpty } ?? ""
        let stripped = String(line.drop { "`\"'*".contains($0) }.reversed().drop { "`\"'*.".contains($0) }.reversed())
        return stripped.count > 100 ? String(stripped.prefix(99)) + "…" : stripped
    }
}
