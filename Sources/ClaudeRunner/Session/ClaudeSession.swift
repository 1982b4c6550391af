import FoundationEssentials
import Glibc
import Logging
import Subprocess

/// One Claude Code session, driven through one long-lived CLI process: later messages go to
/// the same process's stdin, so only the first pays the start-up cost. The process is
/// started on the first message, stopped after `idleTimeout`, and started again with
/// `--resume` when the next message comes.
///
/// One run at a time: `send` returns the run's events, ending with `.finished`, which comes
/// from the `result` that names the run's user-message uuid (a background task's turn has
/// its own result and is reported as `.backgroundResult`).
///
/// Stopping a process is in ClaudeSession+Stop.swift, the control requests in
/// ClaudeSession+Control.swift; the state they share is internal for that.
public actor ClaudeSession {
    public nonisolated let options: SessionOptions
    let configuration: ClaudeConfiguration
    private let delegate: any PermissionDelegate
    private let logger: Logger
    /// Told as runs start and end and the process goes (the host's count of warm processes).
    private let observer: (any ClaudeSessionObserver)?

    var process: CLIProcess?
    var marker = ""
    /// The CLI has written the session's transcript: a restart must resume it.
    private var sessionExists: Bool
    /// The current process was started with `--resume`.
    private var processResumes = false
    private var permissionMode: PermissionMode
    private var model: String?

    struct Run {
        let uuid: String
        let continuation: AsyncStream<RunEvent>.Continuation
        let startedAt: ContinuousClock.Instant
        var lastOutputAt: ContinuousClock.Instant
        /// Set when the watchdog gave up on the run: its result (the CLI's answer to the
        /// interrupt) then ends it with this error, so the caller learns why.
        var abandoned: ClaudeError?
    }
    var run: Run?
    var pendingPermissions: [String: Task<Void, Never>] = [:]
    var pendingControls: [String: CheckedContinuation<Result<JSONValue, ClaudeError>, Never>] = [:]
    /// Callers waiting for a given process (the current one or one being stopped) to exit.
    var exitWaiters: [ObjectIdentifier: [CheckedContinuation<Void, Never>]] = [:]
    /// The stop in progress, if any: a new process is spawned only after it, so two CLIs
    /// never write the same session's transcript and `--resume` reads a finished one.
    var retiring: Task<Void, Never>?
    /// ExitPlanMode's plan by tool_use id: its permission request arrives without it.
    private var plans: [String: String] = [:]
    var controlCounter = 0
    var idleTask: Task<Void, Never>?
    private var watchdog: Task<Void, Never>?
    private let clock = ContinuousClock()

    public init(
        configuration: ClaudeConfiguration, options: SessionOptions, delegate: any PermissionDelegate, logger: Logger,
        observer: (any ClaudeSessionObserver)? = nil
    ) {
        DescendantSweeper.prepareHost(subreaper: configuration.reaper == nil)
        self.configuration = configuration
        self.options = options
        self.delegate = delegate
        self.logger = logger
        self.observer = observer
        sessionExists = options.resume
        permissionMode = options.permissionMode
        model = options.model
    }

    public var isProcessRunning: Bool { process.map { !$0.hasExited } ?? false }
    /// The process started for the session: `claude-reaper` when one is configured (the CLI is its child).
    public var processID: pid_t? { process?.pid }
    public var isRunning: Bool { run != nil }
    /// The marker the current (or last) process and its tools carry in their environment.
    public var processMarker: String { marker }

    // MARK: Runs

    /// When a message reached the CLI's stdin pipe, and whether its process was started for it.
    public struct MessageWritten: Sendable {
        public let at: ContinuousClock.Instant
        /// The message waited for a CLI process to be spawned (the session's first message,
        /// or the first after an idle stop).
        public let startedProcess: Bool
    }

    /// Sends a user message and returns the run's events. `written` is told once the message
    /// is in the CLI's stdin pipe (for latency metrics): usually before `send` returns, from the
    /// pipe's drain when the pipe was full, so it must be quick.
    public func send(
        _ content: UserContent, written: (@Sendable (MessageWritten) -> Void)? = nil
    ) throws(ClaudeError) -> AsyncStream<RunEvent> {
        guard run == nil else { throw .runInProgress }
        idleTask?.cancel()
        let startsProcess = !isProcessRunning
        let process = ensureProcess()
        let uuid = UUID().uuidString.lowercased()
        let (stream, continuation) = AsyncStream.makeStream(of: RunEvent.self)
        run = Run(uuid: uuid, continuation: continuation, startedAt: clock.now, lastOutputAt: clock.now)
        var lineWritten: (@Sendable (ContinuousClock.Instant) -> Void)?
        if let written {
            lineWritten = { instant in written(MessageWritten(at: instant, startedProcess: startsProcess)) }
        }
        process.write(HostMessage.line(HostMessage.user(content, uuid: uuid)), written: lineWritten)
        startWatchdog(for: uuid)
        notify(.runStarted)
        return stream
    }

    /// Ends the current turn; the process lives on for the next message.
    public func interrupt() async throws(ClaudeError) {
        guard isProcessRunning else { return }
        _ = try await control("interrupt")
    }

    /// Takes effect from the next turn.
    public func setPermissionMode(_ mode: PermissionMode) async throws(ClaudeError) {
        permissionMode = mode
        if isProcessRunning { _ = try await control("set_permission_mode", ["mode": .string(mode.rawValue)]) }
    }

    public func setModel(_ newModel: String?) async throws(ClaudeError) {
        model = newModel
        if isProcessRunning { _ = try await control("set_model", ["model": newModel.map(JSONValue.string) ?? .null]) }
    }

    // MARK: Process

    private func ensureProcess() -> CLIProcess {
        if let process, !process.hasExited { return process }
        if process != nil {
            // It died between runs and its exit is not handled yet (it will be ignored as stale):
            // sweep what it left behind now.
            let stale = marker
            Task { await DescendantSweeper.killAll(marked: stale, root: nil) }
        }
        let process = CLIProcess()
        marker = UUID().uuidString.lowercased()
        var environment = configuration.environment
        environment[DescendantSweeper.markerVariable] = marker
        environment["CLAUDE_CODE_MAX_RETRIES"] = String(configuration.maxRetries)
        environment["PWD"] = options.workingDirectory
        let claude = CLIInvocation.resolve(configuration.executable, path: environment["PATH"])
        let cliArguments = CLIInvocation(
            configuration: configuration, options: options, permissionMode: permissionMode, model: model,
            resume: sessionExists
        ).arguments
        let (executable, launchArguments) = CLIInvocation.launch(
            claude: claude, arguments: cliArguments, reaper: configuration.reaper.map { CLIInvocation.resolve($0, path: nil) },
            niceness: configuration.niceness, path: environment["PATH"], sandbox: configuration.sandbox)
        process.start(CLIProcess.Launch(
            executable: executable, arguments: launchArguments, environment: environment,
            workingDirectory: options.workingDirectory,
            maxLineLength: configuration.maxLineLength, stderrLimit: configuration.stderrLimit), after: retiring)
        self.process = process
        processResumes = sessionExists
        // Optional for the CLI, but it makes an unusable binary fail at once rather than on the first prompt.
        process.write(HostMessage.line(HostMessage.controlRequest(id: nextControlID(), subtype: "initialize", ["hooks": nil])))
        Task { [weak self] in
            for await event in process.events { await self?.handle(event, from: process) }
        }
        logger.info("claude started", metadata: [
            "session": "\(options.sessionID)", "resume": "\(sessionExists)", "cwd": "\(options.workingDirectory)",
        ])
        return process
    }

    private func handle(_ event: CLIProcess.Event, from source: CLIProcess) async {
        guard source === process else {
            // A process being stopped: only what its stop waits for still matters.
            switch event {
            case .line(let bytes):
                if let json = try? JSONValue.parse(bytes), case .controlResponse(let id, let outcome) = CLIMessage(json) {
                    controlAnswered(id, outcome)
                }
            case .exited:
                releaseExitWaiters(of: source)
            }
            return
        }
        switch event {
        case .line(let bytes):
            if run != nil { run?.lastOutputAt = clock.now }
            guard bytes.first == UInt8(ascii: "{"), let json = try? JSONValue.parse(bytes) else {
                logger.debug("non-JSON output line ignored", metadata: ["bytes": "\(bytes.count)"])
                return
            }
            handle(CLIMessage(json))
        case .exited(let status, let stderr):
            processExited(status, stderr: stderr)
        }
    }

    private func handle(_ message: CLIMessage) {
        switch message {
        case .systemInit(let initialization):
            sessionExists = true
            yield(.initialized(initialization))
        case .assistant(let assistant):
            for case .toolUse(let id, "ExitPlanMode", let input) in assistant.content {
                plans[id] = input["plan"]?.string
            }
            yield(.assistant(assistant))
        case .user(let user):
            if !user.toolResults.isEmpty { yield(.toolResults(user.toolResults)) }
        case .streamEvent(.textDelta(let text)):
            yield(.textDelta(text))
        case .streamEvent(.thinkingDelta(let text)):
            yield(.thinkingDelta(text))
        case .streamEvent:
            break
        case .apiRetry(let retry):
            yield(.apiRetry(retry))
        case .result(let result):
            if let current = run, result.userMessageUUIDs.isEmpty || result.userMessageUUIDs.contains(current.uuid) {
                finishRun(current, current.abandoned.map(RunOutcome.failed) ?? .result(result))
            } else {
                yield(.backgroundResult(result))
                logger.info("result of a background turn", metadata: ["subtype": "\(result.subtype)"])
            }
        case .controlRequest(let id, "can_use_tool", let request):
            permissionRequested(id: id, request)
        case .controlRequest(let id, let subtype, _):
            // No hooks or SDK MCP servers are registered, so nothing else should be asked.
            process?.write(HostMessage.line(HostMessage.controlError(id: id, "unsupported request: \(subtype)")))
        case .controlResponse(let id, let outcome):
            controlAnswered(id, outcome)
        case .controlCancelRequest(let id):
            if let task = pendingPermissions.removeValue(forKey: id) {
                task.cancel()
                yield(.permissionWithdrawn(id: id))
                let delegate = self.delegate
                Task { await delegate.withdraw(id) }
            }
        case .system(let subtype, _):
            logger.trace("system message", metadata: ["subtype": "\(subtype)"])
        case .other(let type, _):
            logger.debug("unknown message type ignored", metadata: ["type": "\(type)"])
        }
    }

    private func permissionRequested(id: String, _ request: JSONValue) {
        let toolUseID = request["tool_use_id"]?.string
        let permission = PermissionRequest(
            id: id, toolName: request["tool_name"]?.string ?? "", input: request["input"] ?? [:], toolUseID: toolUseID,
            suggestions: request["permission_suggestions"], requiresUserInteraction: request["requires_user_interaction"]?.bool ?? false,
            decisionReasonType: request["decision_reason_type"]?.string, description: request["description"]?.string,
            plan: toolUseID.flatMap { plans[$0] })
        // The CLI asks rather than refuses when plan mode is why: a host that allowed would
        // let Claude change things while it is only meant to plan.
        if permissionMode == .plan && permission.decisionReasonType == "mode" && !permission.requiresUserInteraction {
            let reason = "Plan mode: \(permission.toolName) is not allowed until the plan is approved."
            answer(id, .deny(message: reason), input: permission.input)
            yield(.permissionDeniedByPolicy(permission, reason: reason))
            return
        }
        yield(.permissionRequested(permission))
        let delegate = self.delegate
        pendingPermissions[id] = Task {
            let decision = await delegate.decide(permission)
            guard !Task.isCancelled else { return }
            self.permissionDecided(id, decision, input: permission.input)
        }
    }

    private func permissionDecided(_ id: String, _ decision: PermissionDecision, input: JSONValue) {
        guard pendingPermissions.removeValue(forKey: id) != nil else { return }  // withdrawn meanwhile
        answer(id, decision, input: input)
        if case .allow = decision, run != nil { run?.lastOutputAt = clock.now }
    }

    private func answer(_ id: String, _ decision: PermissionDecision, input: JSONValue) {
        let response: JSONValue
        switch decision {
        case let .allow(updatedInput, updatedPermissions):
            var fields: [String: JSONValue] = ["behavior": "allow", "updatedInput": updatedInput ?? input]
            if let updatedPermissions { fields["updatedPermissions"] = updatedPermissions }
            response = .object(fields)
        case let .deny(message, interrupt):
            var fields: [String: JSONValue] = ["behavior": "deny", "message": .string(message)]
            if interrupt { fields["interrupt"] = true }
            response = .object(fields)
        }
        process?.write(HostMessage.line(HostMessage.controlSuccess(id: id, response)))
    }

    private func processExited(_ status: ExitStatus, stderr: String) {
        logger.info("claude exited", metadata: ["session": "\(options.sessionID)", "status": "\(status)"])
        // A transcript we never heard of: an earlier process wrote it and was stopped before
        // its init reached us (a /cancel at once). The next process resumes it.
        if !processResumes && stderr.contains(ClaudeError.sessionInUseMarker) { sessionExists = true }
        let exited = process
        process = nil
        for (_, task) in pendingPermissions { task.cancel() }
        pendingPermissions = [:]
        for (_, waiter) in pendingControls { waiter.resume(returning: .failure(.control("Claude Code exited"))) }
        pendingControls = [:]
        if let run { finishRun(run, .failed(.processExited(status, stderr: stderr))) }
        if let exited { releaseExitWaiters(of: exited) }
        // Its tools may have outlived it (a crash, a SIGKILL): nothing of it may stay behind.
        let marker = self.marker
        Task { await DescendantSweeper.killAll(marked: marker, root: nil) }
        notify(.processEnded)
    }

    // MARK: Run bookkeeping

    private func yield(_ event: RunEvent) {
        run?.continuation.yield(event)
    }

    func notify(_ event: ClaudeSessionEvent) {
        observer?.session(self, did: event)
    }

    func finishRun(_ finished: Run, _ outcome: RunOutcome) {
        guard run?.uuid == finished.uuid else { return }
        watchdog?.cancel()
        run = nil
        scheduleIdleStop()
        // Before the caller hears of the end, which it may act on at once (another prompt).
        notify(.runEnded)
        finished.continuation.yield(.finished(outcome))
        finished.continuation.finish()
    }

    private func scheduleIdleStop() {
        idleTask?.cancel()
        let limit = configuration.idleTimeout
        idleTask = Task { [weak self] in
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled else { return }
            await self?.stopIfIdle(reason: "idle timeout")
        }
    }

    /// Stops the process if it waits idle: no run, no permission request open. The check and
    /// the stop's detaching of the process are one step on this actor, so a run that starts
    /// meanwhile is never cut off. The next message resumes the session, as after the idle
    /// timeout; `reason` goes in the log line.
    @discardableResult
    public func stopIfIdle(reason: String) async -> IdleStop {
        guard isProcessRunning else { return .notRunning }
        guard run == nil, pendingPermissions.isEmpty else { return .busy }
        logger.info("stopping idle claude", metadata: ["session": "\(options.sessionID)", "reason": "\(reason)"])
        await stop()
        return .stopped
    }

    /// Interrupts a run that takes too long or goes silent (outside approvals: the host owns those).
    private func startWatchdog(for uuid: String) {
        watchdog?.cancel()
        watchdog = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                guard let self, !Task.isCancelled else { return }
                if let error = await self.overdue(uuid) {
                    await self.abandon(uuid, error)
                    return
                }
            }
        }
    }

    private func overdue(_ uuid: String) -> ClaudeError? {
        guard let run, run.uuid == uuid else { return nil }
        let now = clock.now
        if now - run.startedAt > configuration.runTimeout { return .runTimedOut(configuration.runTimeout) }
        if pendingPermissions.isEmpty && now - run.lastOutputAt > configuration.silenceTimeout {
            return .silent(configuration.silenceTimeout)
        }
        return nil
    }

    /// Interrupt; the run ends with `error` when the CLI answers with its result. If none
    /// comes within the grace period, the process is stopped (it kept a healthy process otherwise).
    private func abandon(_ uuid: String, _ error: ClaudeError) async {
        logger.warning("run abandoned", metadata: ["session": "\(options.sessionID)", "reason": "\(error)"])
        guard run?.uuid == uuid else { return }
        run?.abandoned = error
        _ = try? await control("interrupt", timeout: configuration.stopGracePeriod)
        try? await Task.sleep(for: configuration.stopGracePeriod)
        guard let run, run.uuid == uuid else { return }
        finishRun(run, .failed(error))
        await stop()
    }
}
