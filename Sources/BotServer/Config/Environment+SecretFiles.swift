import Glibc

/// Secrets given as files, the Docker and Coolify convention (`/run/secrets/...`): NAME_FILE
/// names a file whose content is NAME's value. The files are read once, while the
/// environment is built, so every reader of NAME (Configuration, ChatSettings' GIT_TOKEN, the
/// Transcriber's key) gets the value without knowing where it came from.
extension Environment {
    /// Every variable that holds a secret: each may be given as NAME_FILE, is redacted from
    /// the logs and is wiped from the process's environment block once read.
    static let secretNames = [
        "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "METRICS_TOKEN", "GIT_TOKEN", "TRANSCRIPTION_API_KEY",
    ]

    /// Larger files are refused: a secret is a line, and a wrong path (a log, a device) must
    /// not be read whole.
    static let secretFileLimit = 64 << 10

    /// The environment with each NAME_FILE's content as NAME. The _FILE variables stay, so an
    /// operator can still see where a value came from.
    static func resolvingSecretFiles(_ values: [String: String]) throws(ConfigurationError) -> Environment {
        let given = Environment(values)
        var resolved = values
        for name in secretNames {
            let fileVariable = name + "_FILE"
            guard let path = given.optional(fileVariable) else { continue }
            // Two sources would make the winner a guess; a value left over from before the
            // switch to a file would silently keep working.
            guard given.optional(name) == nil else {
                throw ConfigurationError(
                    variable: fileVariable,
                    problem: "is set together with \(name); set only one of them (\(name) for the value, \(fileVariable) for the path of a file holding it)")
            }
            resolved[name] = try readSecretFile(path, variable: fileVariable)
        }
        return Environment(resolved)
    }

    /// The file's text without the line ending editors and `echo` add (`\n` or `\r\n`).
    /// Errors name the path, never the content.
    private static func readSecretFile(_ path: String, variable: String) throws(ConfigurationError) -> String {
        func failure(_ problem: String) -> ConfigurationError { ConfigurationError(variable: variable, problem: problem) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw failure("cannot open \(path) (\(String(cString: strerror(errno)))); mount the secret there or correct the path")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= secretFileLimit {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read \(path) (\(String(cString: strerror(errno)))); it must be a file holding only the secret")
            }
            bytes += chunk[0..<count]
        }
        guard bytes.count <= secretFileLimit else {
            throw failure("\(path) is larger than \(secretFileLimit >> 10) KiB; it must be a file holding only the secret")
        }
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("\(path) is not a text file; it must hold only the secret, as text")
        }
        guard !text.trimmingWhitespace().isEmpty else {
            throw failure("\(path) is empty; write the secret into it")
        }
        return text
    }
}
