import ClaudeRunner

/// Why a run did not produce an answer, as the user should read it: the real cause in one
/// sentence, and what can be done about it.
struct RunFailure: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case notLoggedIn
        case overloaded
        case usageLimit(resetsAt: Int64?)
        case binaryMissing
        case sessionNotFound
        case promptTooLong
        case timedOut
        case silent
        case crashed
        case apiError
        case cancelled
    }

    let kind: Kind
    let message: String

    /// From a result that reports an error (is_error).
    static func from(result: ResultMessage) -> RunFailure? {
        guard result.isError || result.subtype.hasPrefix("error") else { return nil }
        let text = result.result ?? ""
        let all = ([text] + result.errors).joined(separator: " ")
        let lowered = all.lowercased()
        if lowered.contains("no conversation found") {
            return RunFailure(kind: .sessionNotFound, message: "The Claude session could not be found any more.")
        }
        if result.terminalReason == "prompt_too_long" || lowered.contains("prompt is too long") {
            return RunFailure(
                kind: .promptTooLong,
                message: "The conversation is too long for the model: send /compact to summarise it, or /new to start fresh.")
        }
        if lowered.contains("limit reached") || lowered.contains("usage limit") {
            let resets = resetTime(in: all)
            return RunFailure(
                kind: .usageLimit(resetsAt: resets),
                message: "Claude's usage limit is reached" + (resets.map { " until \(Self.clock($0)) UTC." } ?? "; try again later."))
        }
        if result.apiErrorStatus == 401 || result.apiErrorStatus == 403 || lowered.contains("invalid api key")
            || lowered.contains("/login") || lowered.contains("oauth token has expired") || lowered.contains("not logged in")
        {
            return RunFailure(
                kind: .notLoggedIn,
                message: "Claude Code is not logged in or its credentials expired: run `claude` once on the server and log in, or set ANTHROPIC_API_KEY.")
        }
        if result.apiErrorStatus == 529 || lowered.contains("overloaded") {
            return RunFailure(kind: .overloaded, message: "Anthropic's API is overloaded right now; try again in a minute.")
        }
        if result.subtype == "error_max_turns" {
            return RunFailure(kind: .apiError, message: "Claude stopped after reaching the maximum number of turns.")
        }
        if let status = result.apiErrorStatus {
            return RunFailure(kind: .apiError, message: "The Anthropic API failed (HTTP \(status)): \(firstSentence(text))")
        }
        return RunFailure(kind: .apiError, message: firstSentence(text.isEmpty ? (result.errors.first ?? "Claude reported an error.") : text))
    }

    static func from(error: ClaudeError) -> RunFailure {
        switch error {
        case .processExited(.launchFailed(let reason), _):
            return RunFailure(kind: .binaryMissing, message: "The Claude Code CLI could not be started (\(reason)); check CLAUDE_BIN.")
        case .processExited(.exited(127), _), .processExited(.exited(126), _):
            return RunFailure(kind: .binaryMissing, message: "The Claude Code CLI was not found or is not executable; check CLAUDE_BIN.")
        case .processExited(_, let stderr) where stderr.contains("cannot be used with root"):
            return RunFailure(
                kind: .crashed, message: "Claude Code refuses bypassPermissions when it runs as root; pick another /mode or run the bot as a normal user.")
        case .processExited(_, let stderr) where stderr.contains("No conversation found"):
            return RunFailure(kind: .sessionNotFound, message: "The Claude session could not be found any more.")
        case .processExited(let status, let stderr):
            let detail = stderr.split(separator: "\n").last.map { ": " + String($0) } ?? ""
            return RunFailure(kind: .crashed, message: "Claude Code stopped unexpectedly (\(status))\(detail).")
        case .runTimedOut(let limit):
            return RunFailure(kind: .timedOut, message: "The run took longer than \(ProgressRenderer.format(elapsed: limit)) and was stopped.")
        case .silent(let limit):
            return RunFailure(kind: .silent, message: "Claude Code said nothing for \(ProgressRenderer.format(elapsed: limit)) and was stopped.")
        case .stopped:
            return RunFailure(kind: .cancelled, message: "Stopped.")
        case .runInProgress, .control:
            return RunFailure(kind: .crashed, message: "Claude Code could not take the message: \(error).")
        }
    }

    /// "…limit reached|1767225600" (the CLI's machine-readable form) or a `resetsAt` epoch.
    static func resetTime(in text: String) -> Int64? {
        if let bar = text.lastIndex(of: "|") {
            let digits = text[text.index(after: bar)...].prefix { $0.isNumber }
            if digits.count >= 9, let epoch = Int64(digits) { return epoch }
        }
        return nil
    }

    static func clock(_ epoch: Int64) -> String {
        let secondsOfDay = ((epoch % 86_400) + 86_400) % 86_400
        let hours = secondsOfDay / 3600, minutes = secondsOfDay % 3600 / 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }

    static func firstSentence(_ text: String) -> String {
        let line = text.split(separator: "\n").first.map(String.init) ?? text
        return line.count > 300 ? String(line.prefix(299)) + "…" : line
    }
}
