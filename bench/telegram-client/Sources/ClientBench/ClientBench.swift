import Glibc
import HTTPCore
import Synchronization

/// Sends `--requests` Bot API sendMessage calls with our HTTPClient, `--concurrency` at a
/// time (one task per slot, each on its own keep-alive connection from the client's pool),
/// and prints one JSON line: requests/s over the whole run, p50/p99 latency of single
/// calls (nearest rank), and errors (anything but 200 with a body starting {"ok":true).
///
///     client-bench --url http://127.0.0.1:8081 --token 123:ABC --requests 5000 --concurrency 8
///         [--first N] [--chats K]
///
/// Request n (from --first on) is `{"chat_id":<1 + n % K>,"text":"benchmark message <n>"}`:
/// K chats (default 1000), so the fake's per-chat flood control never comes near its limit.
@main
struct ClientBench {
    struct Options {
        var url = ""
        var token = ""
        var requests = 0
        var concurrency = 1
        var first = 0
        var chats = 1000
    }

    static func main() async {
        let options: Options
        do {
            options = try parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            fail("client-bench: \(error.message)\nusage: client-bench --url URL --token T --requests N --concurrency C [--first N] [--chats K]")
        }
        let target: HTTPClientURL
        do {
            let base = options.url.hasSuffix("/") ? String(options.url.dropLast()) : options.url
            target = try HTTPClientURL(base + "/bot\(options.token)/sendMessage")
        } catch {
            fail("client-bench: \(error)")
        }
        var configuration = HTTPClientConfiguration()
        // One connection per concurrent caller, as the Python reference has one per thread.
        configuration.maxConnectionsPerOrigin = options.concurrency
        configuration.responseTimeout = .seconds(10)
        let client: HTTPClient
        do {
            client = try HTTPClient(configuration: configuration)
        } catch {
            fail("client-bench: \(error)")
        }

        let next = Counter()
        let started = now()
        let results = await withTaskGroup(of: WorkerResult.self) { group in
            for _ in 0..<options.concurrency {
                group.addTask { await worker(client: client, url: target, options: options, next: next) }
            }
            var all: [WorkerResult] = []
            for await result in group { all.append(result) }
            return all
        }
        let wall = Double(now() - started) / 1e9
        let openConnections = client.openConnections(to: target)
        client.shutdown()

        var latencies = results.flatMap(\.latencies)
        latencies.sort()
        let errors = results.reduce(0) { $0 + $1.errors }
        let sample = results.compactMap(\.firstError).first
        let count = latencies.count
        let meanMs = count == 0 ? 0 : Double(latencies.reduce(0, +)) / Double(count) / 1e6
        var fields: [(String, String)] = [
            ("client", json("ours")),
            ("requests", "\(count)"),
            ("concurrency", "\(options.concurrency)"),
            ("wall_s", number(wall)),
            ("rps", number(wall > 0 ? Double(count) / wall : 0)),
            ("p50_ms", number(percentile(latencies, 50))),
            ("p99_ms", number(percentile(latencies, 99))),
            ("mean_ms", number(meanMs)),
            ("max_ms", number(count == 0 ? 0 : Double(latencies[count - 1]) / 1e6)),
            ("errors", "\(errors)"),
            ("open_connections_at_end", "\(openConnections)"),
        ]
        if let sample { fields.append(("error_sample", json(sample))) }
        print("{" + fields.map { "\(json($0.0)):\($0.1)" }.joined(separator: ",") + "}")
    }

    struct WorkerResult: Sendable {
        var latencies: [UInt64] = []
        var errors = 0
        var firstError: String?
    }

    private static let okPrefix = Array(#"{"ok":true"#.utf8)

    private static func worker(client: HTTPClient, url: HTTPClientURL, options: Options, next: Counter) async
        -> WorkerResult
    {
        var result = WorkerResult()
        result.latencies.reserveCapacity(options.requests / options.concurrency + 1)
        let headers: HTTPHeaders = ["Content-Type": "application/json"]
        while true {
            let index = next.take()
            guard index < options.requests else { break }
            let n = options.first + index
            let body = #"{"chat_id":\#(1 + n % options.chats),"text":"benchmark message \#(n)"}"#
            let request = HTTPClientRequest(method: .POST, url: url, headers: headers, body: .bytes(Array(body.utf8)))
            let start = now()
            var problem: String?
            do {
                let response = try await client.execute(request)
                if response.status != 200 || !response.body.starts(with: okPrefix) {
                    problem = "HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))"
                }
            } catch {
                problem = "\(error)"
            }
            result.latencies.append(now() - start)
            if let problem {
                result.errors += 1
                if result.firstError == nil { result.firstError = problem }
            }
        }
        return result
    }

    // MARK: Helpers

    /// Hands out request indices to the workers.
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
    }

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
            case "--url": options.url = try value()
            case "--token": options.token = try value()
            case "--requests": options.requests = try integer(1)
            case "--concurrency": options.concurrency = try integer(1)
            case "--first": options.first = try integer(0)
            case "--chats": options.chats = try integer(1)
            default: throw UsageError(message: "unknown argument '\(arguments[index])'")
            }
            index += 1
        }
        guard !options.url.isEmpty, !options.token.isEmpty, options.requests > 0 else {
            throw UsageError(message: "--url, --token and --requests are required")
        }
        return options
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Nearest rank, in milliseconds, of sorted nanosecond samples (bench.py computes it the same way).
    static func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return Double(sorted[min(max(rank, 1), sorted.count) - 1]) / 1e6
    }

    static func number(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }

    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func fail(_ message: String) -> Never {
        var text = message + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
}
