/// The live progress message and the end-of-run card, as Telegram HTML. Everything that
/// came from Claude or the user is escaped; the result always fits one message.
enum ProgressRenderer {
    /// Partial answer text shown in the progress message (when it is not streamed as a draft).
    static let partialTextLength = 700

    static func progress(_ progress: RunProgress, elapsed: Duration, showPartialText: Bool) -> String {
        var lines: [String] = []
        var header = "⏳ <b>Working</b> · " + format(elapsed: elapsed)
        if progress.waitingForApproval > 0 { header = "✋ <b>Waiting for your approval</b> · " + format(elapsed: elapsed) }
        lines.append(header)
        if let retry = progress.retry {
            lines.append("⚠️ The API is not answering (\(TelegramHTML.escape(retry.error ?? "error"))); retry \(retry.attempt) of \(retry.maxRetries)…")
        }
        if progress.olderActivityCount > 0 {
            lines.append("<i>… \(progress.olderActivityCount) earlier step\(progress.olderActivityCount == 1 ? "" : "s")</i>")
        }
        for (index, line) in progress.activity.enumerated() {
            let marker = index == progress.activity.count - 1 ? "▸" : "·"
            lines.append(marker + " " + TelegramHTML.escape(line))
        }
        if showPartialText {
            let text = progress.partialText.trimmingWhitespace()
            if !text.isEmpty {
                lines.append("")
                lines.append("<blockquote>" + TelegramHTML.escape(tail(text, partialTextLength)) + "</blockquote>")
            }
        }
        return lines.joined(separator: "\n")
    }

    struct Summary: Sendable {
        var outcome: String
        var elapsed: Duration
        var costUSD: Double?
        var model: String?
        var mode: String
        var sessionID: String
        var project: String
    }

    /// The progress message once the run is over.
    static func card(_ progress: RunProgress, _ summary: Summary) -> String {
        var lines = [summary.outcome]
        var facts = [format(elapsed: summary.elapsed)]
        if let cost = summary.costUSD { facts.append(formatCost(cost)) }
        if let model = modelName(summary.model) { facts.append(TelegramHTML.escape(model)) }
        facts.append(TelegramHTML.escape(summary.mode))
        lines.append(facts.joined(separator: " · "))
        if !progress.changedFiles.isEmpty {
            lines.append("")
            lines.append("<b>Files changed</b>")
            for change in progress.changedFiles.prefix(15) {
                lines.append("• <code>\(TelegramHTML.escape(change.path))</code> +\(change.added) −\(change.removed)")
            }
            if progress.changedFiles.count > 15 { lines.append("… and \(progress.changedFiles.count - 15) more") }
        }
        let tools = progress.toolsUsed
        if !tools.isEmpty {
            lines.append("")
            lines.append("<b>Tools</b> " + tools.prefix(12).map { TelegramHTML.escape($0.name) + ($0.count > 1 ? " ×\($0.count)" : "") }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    /// The one line under a short answer that replaced the progress message:
    /// "✅ 12 s · $0.03 · 2 files changed".
    static func footer(_ progress: RunProgress, _ summary: Summary) -> String {
        var facts = [format(elapsed: summary.elapsed)]
        if let cost = summary.costUSD { facts.append(formatCost(cost)) }
        let files = progress.changedFiles.count
        if files > 0 { facts.append("\(files) file\(files == 1 ? "" : "s") changed") }
        return "<i>✅ " + facts.joined(separator: " · ") + "</i>"
    }

    /// How to go on with the session in a terminal (in /status).
    static func terminalCommand(project: String, sessionID: String) -> String {
        "<code>cd \(TelegramHTML.escape(shellQuoted(project))) &amp;&amp; claude --resume \(TelegramHTML.escape(sessionID))</code>"
    }

    /// A model as people say it: "claude-sonnet-4-5-20250929" is "Sonnet 4.5", "opus" is
    /// "Opus". Names of another shape are shown as they are. /status uses it too, so that
    /// both name a model alike.
    static func modelName(_ model: String?) -> String? {
        guard var name = model, !name.isEmpty else { return nil }
        var suffix = ""
        if name.hasSuffix("[1m]") {
            name.removeLast(4)
            suffix = " (1M)"
        }
        if name.hasPrefix("claude-") { name.removeFirst(7) }
        var parts = name.split(separator: "-", omittingEmptySubsequences: false)
        if let last = parts.last, last.count == 8, last.allSatisfy(\.isASCII), last.allSatisfy(\.isNumber) { parts.removeLast() }
        let words = parts.filter { $0.allSatisfy { $0.isASCII && $0.isLetter } && !$0.isEmpty }
        let numbers = parts.filter { $0.allSatisfy { $0.isASCII && $0.isNumber } && !$0.isEmpty }
        guard words.count == 1, words.count + numbers.count == parts.count, numbers.count <= 2, let family = words.first else { return model }
        return ([family.prefix(1).uppercased() + family.dropFirst()] + (numbers.isEmpty ? [] : [numbers.joined(separator: ".")])).joined(separator: " ") + suffix
    }

    static func format(elapsed: Duration) -> String {
        let seconds = Int(elapsed.components.seconds)
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min \(seconds % 60) s" }
        return "\(seconds / 3600) h \(seconds % 3600 / 60) min"
    }

    /// "$0.42", or four decimals under a cent ("$0.0031") so that small runs do not read as free.
    static func formatCost(_ cost: Double) -> String {
        let decimals = cost > 0 && cost < 0.01 ? 4 : 2
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let units = Int((max(0, cost) * Double(scale)).rounded())
        let fraction = String(units % scale)
        return "$\(units / scale)." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    static func shellQuoted(_ path: String) -> String {
        let safe = path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+".contains($0) }
        return safe ? path : "'" + path.replacingAll("'", with: "'\\''") + "'"
    }

    static func tail(_ text: String, _ length: Int) -> String {
        text.count <= length ? text : "…" + String(text.suffix(length - 1))
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
