/// What a run reports while it goes, ending with `.finished`.
public enum RunEvent: Sendable {
    case initialized(SystemInit)
    case textDelta(String)
    case thinkingDelta(String)
    /// A completed content block: text, thinking or a tool call.
    case assistant(AssistantMessage)
    case toolResults([ToolResult])
    /// The API failed and the CLI retries ("overloaded, retrying").
    case apiRetry(APIRetry)
    /// Handed to the delegate; reported so progress can say "waiting for approval".
    case permissionRequested(PermissionRequest)
    /// Denied by the runner's own policy (a change requested in plan mode).
    case permissionDeniedByPolicy(PermissionRequest, reason: String)
    case permissionWithdrawn(id: String)
    /// A result that answers something else (a background task's own turn).
    case backgroundResult(ResultMessage)
    case finished(RunOutcome)
}

public enum RunOutcome: Sendable {
    case result(ResultMessage)
    case failed(ClaudeError)
}

/// Why a run or a request did not complete.
public enum ClaudeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One run at a time per session: wait for `.finished`, or interrupt.
    case runInProgress
    /// The CLI ended before the run's result (crashed, killed, or failed at start-up).
    case processExited(ExitStatus, stderr: String)
    case runTimedOut(Duration)
    case silent(Duration)
    /// The session was stopped while the run was going.
    case stopped
    /// A control request (interrupt, set_model, ...) failed or got no answer.
    case control(String)

    /// What the CLI says when `--session-id` names a session whose transcript exists.
    static let sessionInUseMarker = "is already in use"

    /// The CLI refused to start the session afresh because an earlier process (stopped before
    /// its init reached us) had already written its transcript. The session has noted it:
    /// sending again resumes it.
    public var isSessionInUse: Bool {
        if case .processExited(_, let stderr) = self { stderr.contains(Self.sessionInUseMarker) } else { false }
    }

    public var description: String {
        switch self {
        case .runInProgress: return "Claude is still working on the previous message"
        case let .processExited(status, stderr):
            let detail = stderr.split(separator: "\n").suffix(3).joined(separator: " / ")
            return "Claude Code stopped unexpectedly (\(status))" + (detail.isEmpty ? "" : ": \(detail)")
        case let .runTimedOut(limit): return "the run took longer than \(limit) and was stopped"
        case let .silent(limit): return "Claude Code said nothing for \(limit) and was stopped"
        case .stopped: return "the session was stopped"
        case let .control(reason): return "control request failed: \(reason)"
        }
    }
}
