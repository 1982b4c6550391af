/// Why the server could not start; printed as one line before exiting with code 1.
enum StartupError: Error, CustomStringConvertible {
    case database(path: String, underlying: any Error)
    case listen(any Error)

    var description: String {
        switch self {
        case let .database(path, underlying): return "cannot open the database at \(path): \(underlying)"
        case let .listen(underlying): return "\(underlying)"
        }
    }
}
