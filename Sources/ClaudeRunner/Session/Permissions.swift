/// A tool the CLI wants to run, waiting for the host's decision.
public struct PermissionRequest: Sendable, Equatable {
    /// The control request's id: answers and withdrawals refer to it.
    public let id: String
    public let toolName: String
    public let input: JSONValue
    public let toolUseID: String?
    /// The CLI's own suggestions ("always allow this prefix", "switch to acceptEdits", ...).
    public let suggestions: JSONValue?
    /// AskUserQuestion and ExitPlanMode: a person must answer, not a rule.
    public let requiresUserInteraction: Bool
    /// "mode" when plan mode is why it asks.
    public let decisionReasonType: String?
    public let description: String?
    /// ExitPlanMode's plan, from the assistant's tool_use: the request itself arrives without it.
    public let plan: String?

    public init(
        id: String, toolName: String, input: JSONValue, toolUseID: String?, suggestions: JSONValue?,
        requiresUserInteraction: Bool, decisionReasonType: String?, description: String?, plan: String?
    ) {
        self.id = id
        self.toolName = toolName
        self.input = input
        self.toolUseID = toolUseID
        self.suggestions = suggestions
        self.requiresUserInteraction = requiresUserInteraction
        self.decisionReasonType = decisionReasonType
        self.description = description
        self.plan = plan
    }
}

public enum PermissionDecision: Sendable, Equatable {
    /// Run it, optionally with changed input (AskUserQuestion's answers go here) and rules to remember.
    case allow(updatedInput: JSONValue? = nil, updatedPermissions: JSONValue? = nil)
    /// Don't; Claude is told `message`. With `interrupt`, the whole turn stops.
    case deny(message: String, interrupt: Bool = false)
}

/// Decides permission requests. Called concurrently for parallel tool calls; the CLI waits
/// for each answer without a timeout of its own, so the delegate owns the timeout.
public protocol PermissionDelegate: Sendable {
    func decide(_ request: PermissionRequest) async -> PermissionDecision
    /// The CLI withdrew a request it asked (e.g. after an interrupt): drop its prompt.
    func withdraw(_ requestID: String) async
}
