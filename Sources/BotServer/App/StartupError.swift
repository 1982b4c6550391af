/// Why the server could not start; printed as one line before exiting with code 1.
enum StartupError: Error, CustomStringConvertible {
    case database(path: String, underlying: any Error)
    case listen(any Error)
    case telegram(String)
    /// Polling was asked for while Telegram has a webhook set (it would answer 409 forever).
    case webhookActive(url: String)
    /// Claude's tools cannot be confined as configured (see ToolIsolation), or a folder has the wrong owner.
    case isolation(String)

    var description: String {
        switch self {
        case let .database(path, underlying): return "cannot open the database at \(path): \(underlying)"
        case let .listen(underlying): return "\(underlying)"
        case let .telegram(reason): return reason
        case let .isolation(reason): return reason
        case let .webhookActive(url):
            return "UPDATE_MODE=polling, but Telegram has a webhook set (\(url)) and refuses getUpdates while it does (409). "
                + "Remove it with `botserver webhook delete`, or run with UPDATE_MODE=webhook."
        }
    }
}
