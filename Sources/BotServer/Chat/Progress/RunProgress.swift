import ClaudeRunner

/// What a run has done so far, folded from its events: the material for the live progress
/// message and the end-of-run card. A value type with no clock of its own, so it is tested
/// by feeding it events.
struct RunProgress: Sendable {
    /// Newest last; older lines are counted, not kept.
    private(set) var activity: [String] = []
    private(set) var olderActivityCount = 0
    /// Text of the assistant turn being streamed (reset when a new turn starts).
    private(set) var partialText = ""
    /// The last completed text block of the main agent: the answer when the result has none.
    private(set) var lastText = ""
    private(set) var toolCounts: [String: Int] = [:]
    private(set) var toolOrder: [String] = []
    /// Per file: lines added and removed, in the order first changed.
    private(set) var changedFiles: [(path: String, added: Int, removed: Int)] = []
    private(set) var waitingForApproval = 0
    private(set) var retry: APIRetry?
    private(set) var model: String?

    let project: String
    static let keptActivityLines = 8

    init(project: String) { self.project = project }

    mutating func apply(_ event: RunEvent) {
        switch event {
        case .initialized(let initialization):
            model = initialization.model
        case .textDelta(let text):
            partialText += text
            retry = nil
        case .thinkingDelta:
            break
        case .assistant(let message):
            for block in message.content {
                switch block {
                case .text(let text) where message.parentToolUseID == nil:
                    if !text.trimmingWhitespace().isEmpty { lastText = text }
                case .toolUse(_, let name, let input):
                    record(tool: name, input: input, subagent: message.parentToolUseID != nil)
                default:
                    break
                }
            }
            // The streamed text of this block is complete; the next block starts afresh.
            if message.content.contains(where: { if case .toolUse = $0 { return true } else { return false } }) {
                partialText = ""
            }
            retry = nil
        case .toolResults:
            break
        case .apiRetry(let apiRetry):
            retry = apiRetry
        case .permissionRequested:
            waitingForApproval += 1
        case .permissionDeniedByPolicy, .permissionWithdrawn:
            break
        case .backgroundResult, .finished:
            break
        }
    }

    mutating func setWaitingForApproval(_ count: Int) {
        waitingForApproval = max(0, count)
    }

    private mutating func record(tool name: String, input: JSONValue, subagent: Bool) {
        let line = (subagent ? "↳ " : "") + ToolActivity.describe(tool: name, input: input, project: project)
        activity.append(line)
        if activity.count > Self.keptActivityLines {
            activity.removeFirst()
            olderActivityCount += 1
        }
        if toolCounts[name] == nil { toolOrder.append(name) }
        toolCounts[name, default: 0] += 1
        if let change = ToolActivity.fileChange(tool: name, input: input, project: project) {
            if let index = changedFiles.firstIndex(where: { $0.path == change.path }) {
                changedFiles[index].added += change.added
                changedFiles[index].removed += change.removed
            } else {
                changedFiles.append(change)
            }
        }
    }

    var toolsUsed: [(name: String, count: Int)] { toolOrder.map { ($0, toolCounts[$0] ?? 0) } }
}
