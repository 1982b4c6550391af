import Glibc
import Logging
import Synchronization

/// Writes one line per log event to stderr, as text or as JSON (for log collectors).
/// Secrets registered with `Redactor` are replaced in every line, a last guard in case
/// some error text ever quotes a URL containing the bot token.
struct BotLogHandler: LogHandler {
    enum Format: Sendable { case text, json }

    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: Format
    private let redactor: Redactor

    init(label: String, level: Logger.Level, format: Format, redactor: Redactor) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.redactor = redactor
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let timestamp = Self.timestamp()
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(timestamp) \(event.level) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)"
        case .json:
            var object: [(String, String)] = [
                ("ts", timestamp), ("level", "\(event.level)"), ("logger", label), ("msg", "\(event.message)"),
            ]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { object.append((key, "\(value)")) }
            line = "{" + object.map { "\(JSONText.quote($0.0)):\(JSONText.quote($0.1))" }.joined(separator: ",") + "}"
        }
        let bytes = Array((redactor.redact(line) + "\n").utf8)
        // One write per line, under a lock, so lines from different threads never interleave.
        Self.outputLock.withLock { _ in ProcessEnvironment.writeToStandardError(bytes) }
    }

    private static let outputLock = Mutex(())

    private static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}

/// Replaces known secret values with a marker.
struct Redactor: Sendable {
    private let secrets: [String]

    init(secrets: [String]) {
        // Longest first, so a secret containing another is replaced whole.
        self.secrets = secrets.filter { $0.count >= 8 }.sorted { $0.count > $1.count }
    }

    func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacing(secret, with: "[REDACTED]")
        }
        return result
    }
}

enum JSONText {
    /// A JSON string literal (RFC 8259 escaping).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20:
                let hex = String(s.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
