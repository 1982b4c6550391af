import Subprocess

/// The environment of a helper program the bot runs (`claude --version` and `git --version`
/// in doctor, a local transcription command): PATH, HOME and LANG of the bot's own, nothing
/// else. The bot's environment holds its secrets, and a helper, which may be any program
/// an operator named, needs none of them.
enum HelperEnvironment {
    static let names = ["PATH", "HOME", "LANG"]

    static func values(from environment: Environment) -> [String: String] {
        var values: [String: String] = [:]
        for name in names {
            if let value = environment.optional(name) { values[name] = value }
        }
        return values
    }

    static func subprocess(_ values: [String: String]) -> Subprocess.Environment {
        .custom(Dictionary(uniqueKeysWithValues: values.compactMap { name, value in
            Subprocess.Environment.Key(rawValue: name).map { ($0, value) }
        }))
    }
}
