import ClaudeRunner
import Glibc
import Logging

/// Sends `--messages` prompts through ClaudeRunner's `ClaudeSession`, one after the other, and
/// prints one JSON line with what each took: ms from calling `send` to the first `.textDelta`,
/// and to `.finished` with a successful result.
///
///     runner-bench --mode warm|cold --claude PATH --reaper PATH --base-url URL
///         --home DIR --workdir DIR --messages N [--session-id ID] [--prompt-prefix TEXT]
///         [--pause-ms MS] [--timeout-s S] [--log-level LEVEL]
///
/// - `warm`: one `ClaudeSession` (so one CLI process) for every message, as the bot keeps it
///   between messages; `stop()` once at the end.
/// - `cold`: a NEW `ClaudeSession` per message on the same session id (`resume: true` from
///   the second on, so the CLI starts with `--resume`), `await stop()` after each result.
///
/// Prompt n is "<prefix> <n>" (n from 1), so the driver can find each one in the fake API's
/// request log. `--pause-ms` (default 250) is waited before every send after the first, in
/// both modes (in cold mode after the previous `stop()`), as a person would pause. Stop
/// times are measured but never counted in the latencies.
@main
struct RunnerBench {
    enum Mode: String { case warm, cold }

    struct Options {
        var mode = Mode.warm
        var claude = ""
        var reaper = ""
        var baseURL = ""
        var home = ""
        var workdir = ""
        var messages = 0
        var sessionID = ""
        var promptPrefix = "benchmark message"
        var pauseMs = 250
        var timeoutS = 60
        var logLevel = Logger.Level.warning
    }

    struct DenyAll: PermissionDelegate {
        func decide(_ request: PermissionRequest) async -> PermissionDecision {
            .deny(message: "The benchmark allows no tools.")
        }
        func withdraw(_ requestID: String) async {}
    }

    static func main() async {
        let options: Options
        do {
            options = try parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            fail("runner-bench: \(error.message)\nusage: runner-bench --mode warm|cold --claude PATH --reaper PATH "
                + "--base-url URL --home DIR --workdir DIR --messages N [--session-id ID] [--prompt-prefix TEXT] "
                + "[--pause-ms MS] [--timeout-s S] [--log-level LEVEL]")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = options.logLevel
            return handler
        }
        let logger = Logger(label: "runner-bench")

        var configuration = ClaudeConfiguration(executable: options.claude, environment: environment(options))
        configuration.reaper = options.reaper
        // A stuck run must end the benchmark, not hang it (the product's limits are an hour).
        configuration.runTimeout = .seconds(Int64(options.timeoutS))
        configuration.silenceTimeout = .seconds(Int64(options.timeoutS))
        let sessionID = options.sessionID.isEmpty ? lowercaseUUID() : options.sessionID
        let delegate = DenyAll()

        func makeSession(resume: Bool) -> ClaudeSession {
            ClaudeSession(
                configuration: configuration,
                options: SessionOptions(workingDirectory: options.workdir, sessionID: sessionID, resume: resume),
                delegate: delegate, logger: logger)
        }

        let started = now()
        var samples: [JSONValue] = []
        var warm: ClaudeSession? = options.mode == .warm ? makeSession(resume: false) : nil
        var previousPID: pid_t?
        var finalStopMs: Double?
        for index in 0..<options.messages {
            if index > 0 && options.pauseMs > 0 { try? await Task.sleep(for: .milliseconds(options.pauseMs)) }
            let session = warm ?? makeSession(resume: index > 0)
            var sample = await measure(session, prompt: "\(options.promptPrefix) \(index + 1)")
            let pid = await session.processID
            sample["index"] = .number(Double(index + 1))
            sample["pid"] = pid.map { .number(Double($0)) } ?? .null
            sample["new_process"] = .bool(pid == nil || pid != previousPID)
            previousPID = pid
            if options.mode == .cold {
                let stopStart = now()
                await session.stop()
                sample["stop_ms"] = .number(ms(now() - stopStart))
                sample["running_after_stop"] = .bool(await session.isProcessRunning)
            }
            samples.append(.object(sample))
        }
        if let session = warm {
            let stopStart = now()
            await session.stop()
            finalStopMs = ms(now() - stopStart)
            warm = nil
        }
        let wall = ms(now() - started)

        func values(_ key: String, from first: Int) -> [Double] {
            samples.dropFirst(first).compactMap { $0["error"] == nil ? $0[key]?.double : nil }.sorted()
        }
        func stats(_ key: String, from first: Int) -> JSONValue {
            let sorted = values(key, from: first)
            return ["n": .number(Double(sorted.count)), "median": number(median(sorted)),
                    "p90": number(percentile(sorted, 90))]
        }
        let errors = samples.filter { $0["error"] != nil }.count
        let report: JSONValue = [
            "mode": .string(options.mode.rawValue),
            "session_id": .string(sessionID),
            "messages": .number(Double(options.messages)),
            "pause_ms": .number(Double(options.pauseMs)),
            "errors": .number(Double(errors)),
            "wall_ms": .number(wall),
            "final_stop_ms": finalStopMs.map(JSONValue.number) ?? .null,
            // All messages, and from the second on (the first starts a process in both modes).
            "first_delta_ms": stats("first_delta_ms", from: 0),
            "result_ms": stats("result_ms", from: 0),
            "later_first_delta_ms": stats("first_delta_ms", from: 1),
            "later_result_ms": stats("result_ms", from: 1),
            "samples": .array(samples),
        ]
        print(String(decoding: report.serialized(), as: UTF8.self))
        exit(errors == 0 ? 0 : 1)  // the JSON line is printed either way
    }

    /// One message: send, then every event up to `.finished`.
    static func measure(_ session: ClaudeSession, prompt: String) async -> [String: JSONValue] {
        var sample: [String: JSONValue] = ["prompt": .string(prompt), "send_epoch_ms": .number(epochMs())]
        let start = now()
        let stream: AsyncStream<RunEvent>
        do {
            stream = try await session.send(.text(prompt))
        } catch {
            sample["error"] = .string("send: \(error)")
            return sample
        }
        sample["send_return_ms"] = .number(ms(now() - start))
        var deltas = 0
        var text = ""
        var outcome: RunOutcome?
        for await event in stream {
            switch event {
            case .initialized:
                if sample["init_ms"] == nil { sample["init_ms"] = .number(ms(now() - start)) }
            case .textDelta(let piece):
                if deltas == 0 { sample["first_delta_ms"] = .number(ms(now() - start)) }
                deltas += 1
                text += piece
            case .finished(let finished):
                sample["finished_ms"] = .number(ms(now() - start))
                outcome = finished
            default:
                break
            }
        }
        sample["deltas"] = .number(Double(deltas))
        sample["delta_text"] = .string(text)
        switch outcome {
        case .result(let result)?:
            sample["result_text"] = result.result.map(JSONValue.string) ?? .null
            sample["subtype"] = .string(result.subtype)
            sample["cli_duration_ms"] = .number(Double(result.durationMilliseconds))
            sample["cli_api_duration_ms"] = .number(Double(result.apiDurationMilliseconds))
            sample["num_turns"] = .number(Double(result.numTurns))
            if result.isError {
                sample["error"] = .string("result is an error: \(result.subtype) \(result.result ?? "")")
            } else if deltas == 0 {
                sample["error"] = .string("a result without any text delta")
            } else {
                sample["result_ms"] = sample["finished_ms"]
            }
        case .failed(let error)?:
            sample["error"] = .string("\(error)")
        case nil:
            sample["error"] = .string("the event stream ended without .finished")
        }
        return sample
    }

    /// The CLI's environment as the bot builds it (minimalEnvironment), pointed at the fake.
    /// Credentials, endpoints and proxies of the host are dropped: only the fake may answer.
    static func environment(_ options: Options) -> [String: String] {
        var host: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                host[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        for name in host.keys where name.hasPrefix("ANTHROPIC_") || name.hasPrefix("CLAUDE_") || name.hasSuffix("_PROXY")
            || name.hasSuffix("_proxy") || name == "API_TIMEOUT_MS"
        {
            host[name] = nil
        }
        host["ANTHROPIC_BASE_URL"] = options.baseURL
        host["ANTHROPIC_API_KEY"] = "sk-test"
        host["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        return ClaudeConfiguration.minimalEnvironment(from: host, home: options.home)
    }

    // MARK: Helpers

    struct UsageError: Error { let message: String }

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var index = 0
        func value() throws(UsageError) -> String {
            guard index + 1 < arguments.count else { throw UsageError(message: "\(arguments[index]) needs a value") }
            index += 1
            return arguments[index]
        }
        func integer(_ minimum: Int) throws(UsageError) -> Int {
            let name = arguments[index]
            let text = try value()
            guard let number = Int(text), number >= minimum else {
                throw UsageError(message: "\(name) must be an integer ≥ \(minimum), not '\(text)'")
            }
            return number
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--mode":
                let text = try value()
                guard let mode = Mode(rawValue: text) else { throw UsageError(message: "--mode is warm or cold, not '\(text)'") }
                options.mode = mode
            case "--claude": options.claude = try value()
            case "--reaper": options.reaper = try value()
            case "--base-url": options.baseURL = try value()
            case "--home": options.home = try value()
            case "--workdir": options.workdir = try value()
            case "--messages": options.messages = try integer(1)
            case "--session-id": options.sessionID = try value()
            case "--prompt-prefix": options.promptPrefix = try value()
            case "--pause-ms": options.pauseMs = try integer(0)
            case "--timeout-s": options.timeoutS = try integer(1)
            case "--log-level":
                let text = try value()
                guard let level = Logger.Level(rawValue: text) else { throw UsageError(message: "unknown --log-level '\(text)'") }
                options.logLevel = level
            default: throw UsageError(message: "unknown argument '\(arguments[index])'")
            }
            index += 1
        }
        for (name, given) in [("--claude", options.claude), ("--reaper", options.reaper), ("--base-url", options.baseURL),
                              ("--home", options.home), ("--workdir", options.workdir)] where given.isEmpty {
            throw UsageError(message: "\(name) is required")
        }
        guard options.messages > 0 else { throw UsageError(message: "--messages is required") }
        for path in [options.claude, options.reaper] where access(path, X_OK) != 0 {
            throw UsageError(message: "not an executable: \(path)")
        }
        // Both are started in --workdir: a relative path would not resolve there (a bare name is
        // looked up on PATH).
        options.claude = absolute(options.claude)
        options.reaper = absolute(options.reaper)
        return options
    }

    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), path.contains("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    static func lowercaseUUID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Wall-clock time, to line a send up with the fake API's request log (`time`).
    static func epochMs() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
    }

    static func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }

    static func median(_ sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Nearest rank (bench.py computes it the same way).
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    static func number(_ value: Double?) -> JSONValue { value.map(JSONValue.number) ?? .null }

    static func fail(_ message: String) -> Never {
        var text = message + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
}
