/// What a CPU-heavy property check found, collected on a thread of its own (see
/// `offCooperativePool`) and asserted afterwards on the test's task, where Swift Testing
/// attributes issues to the test. A debug build spends seconds in such loops; on the
/// cooperative pool (two threads here) that stalled every other suite at the start of a run.
public struct PropertyFindings: Sendable {
    public private(set) var failures: [String] = []
    public var limit = 20

    public init() {}

    public mutating func check(_ holds: Bool, _ description: @autoclosure () -> String) {
        if !holds && failures.count < limit { failures.append(description()) }
    }
}
