import FoundationEssentials

/// Control requests to the CLI (interrupt, set_permission_mode, set_model, initialize): each
/// gets an id, and its answer (or a timeout) resumes whoever asked.
extension ClaudeSession {
    func nextControlID() -> String {
        controlCounter += 1
        return "req_\(controlCounter)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    func control(_ subtype: String, _ fields: [String: JSONValue] = [:], timeout: Duration = .seconds(10))
        async throws(ClaudeError) -> JSONValue
    {
        guard let process else { throw .control("Claude Code is not running") }
        return try await control(subtype, fields, on: process, timeout: timeout)
    }

    func control(_ subtype: String, _ fields: [String: JSONValue] = [:], on process: CLIProcess, timeout: Duration)
        async throws(ClaudeError) -> JSONValue
    {
        guard !process.hasExited else { throw .control("Claude Code is not running") }
        let id = nextControlID()
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.controlTimedOut(id)
        }
        defer { timer.cancel() }
        let result = await withCheckedContinuation { continuation in
            pendingControls[id] = continuation
            process.write(HostMessage.line(HostMessage.controlRequest(id: id, subtype: subtype, fields)))
        }
        return try result.get()
    }

    func controlAnswered(_ id: String, _ outcome: Result<JSONValue, CLIMessage.ControlError>) {
        pendingControls.removeValue(forKey: id)?.resume(returning: outcome.mapError { ClaudeError.control($0.message) })
    }

    private func controlTimedOut(_ id: String) {
        pendingControls.removeValue(forKey: id)?.resume(returning: .failure(.control("no answer in time")))
    }
}
