import Glibc

/// Stopping the CLI process: detached at once, then asked, told and finally forced to go,
/// and whatever it started swept away.
extension ClaudeSession {
    /// Stops the process: stdin closed (the CLI finishes and exits), then SIGTERM (it kills
    /// its tools), then SIGKILL; then every process that carries its marker is killed and
    /// reaped. A run in progress finishes with `.stopped`.
    ///
    /// The process is detached at once: a message sent while it is still exiting starts a
    /// new process (spawned once this one is gone) instead of going to a closing stdin.
    public func stop() async {
        idleTask?.cancel()
        guard let process, !process.hasExited else {
            await retiring?.value
            await sweep(marker)
            return
        }
        let marker = self.marker
        let busy = run != nil || !pendingPermissions.isEmpty
        if let run { finishRun(run, .failed(.stopped)) }
        idleTask?.cancel()  // finishing the run scheduled one
        for (_, task) in pendingPermissions { task.cancel() }
        pendingPermissions = [:]
        self.process = nil
        notify(.processEnded)
        let previous = retiring
        let stopping = Task {
            await previous?.value
            await self.retire(process, marker: marker, interruptFirst: busy)
        }
        retiring = stopping
        await stopping.value
        if retiring == stopping { retiring = nil }
    }

    private func retire(_ process: CLIProcess, marker: String, interruptFirst: Bool) async {
        let grace = configuration.stopGracePeriod
        // An interrupt first: closing stdin alone waits for running tools to finish.
        if interruptFirst { _ = try? await control("interrupt", on: process, timeout: grace) }
        process.closeInput()
        if await waitForExit(of: process, within: grace) { return await sweep(marker) }
        process.send(.terminate)  // the reaper passes it on: the CLI stops its tools
        if await waitForExit(of: process, within: grace) { return await sweep(marker) }
        if configuration.reaper != nil {
            process.send(.userDefinedOne)  // the reaper: SIGKILL the CLI and everything below it
            if await waitForExit(of: process, within: grace) { return await sweep(marker) }
        }
        let root = process.pid
        await DescendantSweeper.killAll(marked: marker, root: root, exclude: root.map { [$0] } ?? [])
        process.send(.kill)
        _ = await waitForExit(of: process, within: grace)
        await sweep(marker)
    }

    /// True when `process` exited within `limit`.
    private func waitForExit(of process: CLIProcess, within limit: Duration) async -> Bool {
        guard !process.hasExited else { return true }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.releaseExitWaiters(of: process)
        }
        await withCheckedContinuation { exitWaiters[ObjectIdentifier(process), default: []].append($0) }
        timer.cancel()
        return process.hasExited
    }

    func releaseExitWaiters(of process: CLIProcess) {
        for waiter in exitWaiters.removeValue(forKey: ObjectIdentifier(process)) ?? [] { waiter.resume() }
    }

    private func sweep(_ marker: String) async {
        guard !marker.isEmpty else { return }
        await DescendantSweeper.killAll(marked: marker, root: nil)
    }
}
