/// Samples of a Prometheus text exposition, by series ("name" or `name{label="value",...}`
/// exactly as written), for tests that check what GET /metrics says.
public struct PrometheusSamples: Sendable {
    public let values: [String: Double]

    public init(_ text: String) {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        self.values = values
    }

    public subscript(_ series: String) -> Double? { values[series] }

    /// The sum over every series of `name` whose labels include all of `labels`.
    public func total(_ name: String, _ labels: [String: String] = [:]) -> Double {
        values.filter { series, _ in
            guard series == name || series.hasPrefix(name + "{") else { return false }
            return labels.allSatisfy { series.contains("\($0.key)=\"\($0.value)\"") }
        }.values.reduce(0, +)
    }
}
