/// Told when a session's CLI process starts working, goes idle and goes away, so that a host
/// can keep count of the processes kept warm between runs (each holds a few hundred MB) and
/// stop the ones it cannot afford with `ClaudeSession.stopIfIdle(reason:)`.
///
/// Called on the session's actor, synchronously, in the order things happen (a count kept
/// through tasks could see a process end before it started). It must therefore return at
/// once: record, and start any slow work (a stop) as a task of its own.
public protocol ClaudeSessionObserver: Sendable {
    func session(_ session: ClaudeSession, did event: ClaudeSessionEvent)
}

public enum ClaudeSessionEvent: Sendable, Equatable {
    /// A run began; the session's process is alive (started for this run when it was not).
    case runStarted
    /// A run ended; the process, if it is still alive, now waits idle for the next message.
    case runEnded
    /// The process exited, or is on its way out (a stop detached it): it no longer counts.
    case processEnded
}

/// What `ClaudeSession.stopIfIdle(reason:)` found.
public enum IdleStop: Sendable, Equatable {
    /// The process was idle and is being stopped; the next message resumes the session.
    case stopped
    /// A run, or a permission request, is in progress: left alone.
    case busy
    /// There was no process to stop.
    case notRunning
}
