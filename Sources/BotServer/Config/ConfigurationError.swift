/// A configuration value that is missing or unusable. Its description is the one line
/// an operator sees before the program exits with code 2; it names the variable and
/// never echoes a secret's value.
struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    let variable: String
    let problem: String

    var description: String { "\(variable): \(problem)" }
}
