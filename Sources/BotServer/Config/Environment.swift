/// Typed reads of environment variables, each failure a `ConfigurationError` naming the variable.
struct Environment: Sendable {
    let values: [String: String]

    init(_ values: [String: String]) {
        self.values = values
    }

    /// A value that is set and not blank, or nil.
    func optional(_ name: String) -> String? {
        guard let value = values[name]?.trimmingWhitespace(), !value.isEmpty else { return nil }
        return value
    }

    func required(_ name: String, hint: String) throws(ConfigurationError) -> String {
        guard let value = optional(name) else {
            throw ConfigurationError(variable: name, problem: "is required but not set (\(hint))")
        }
        return value
    }

    func integer(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = optional(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                variable: name,
                problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    func choice<T>(_ name: String, default defaultValue: T, _ choices: [String: T]) throws(ConfigurationError) -> T {
        guard let text = optional(name) else { return defaultValue }
        guard let value = choices[text.lowercased()] else {
            throw ConfigurationError(
                variable: name,
                problem: "must be one of \(choices.keys.sorted().joined(separator: ", ")), got \"\(text)\"")
        }
        return value
    }
}

extension String {
    /// The text with its first letter capitalised: an error's description as a sentence.
    var sentenceCased: String { prefix(1).uppercased() + dropFirst() }

    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
