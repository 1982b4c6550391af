import ArgumentParser
import HTTPCore

/// `botserver healthcheck`: GET /healthz of the bot running in this container, exit 0 when it
/// answers 200 and 1 otherwise. The image's HEALTHCHECK runs it, so the image needs no curl.
/// It reads only PORT and LISTEN_HOST (as serve does), so it works without the bot's secrets.
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Ask the running bot's /healthz on this machine; exit 0 when it answers 200 (for HEALTHCHECK).")

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Int = 4

    func run() async throws {
        let environment = Environment(ProcessEnvironment.current())
        let port: Int
        do {
            port = try environment.integer("PORT", default: 8080, range: 1...65535)
        } catch {
            ProcessEnvironment.printError("botserver healthcheck: \(error)")
            throw ExitCode(1)
        }
        let url = "http://\(Self.probeHost(listenHost: environment.optional("LISTEN_HOST"))):\(port)/healthz"
        let seconds = Duration.seconds(max(1, timeout))
        var settings = HTTPClientConfiguration()
        settings.connectTimeout = seconds
        settings.responseTimeout = seconds
        settings.bodyReadTimeout = seconds
        let status: Int
        do {
            let client = try HTTPClient(configuration: settings)
            status = try await client.execute(HTTPClientRequest(method: .GET, url: try HTTPClientURL(url))).status
        } catch {
            print("unhealthy: \(url): \(error)")
            throw ExitCode(1)
        }
        guard status == 200 else {
            print("unhealthy: \(url) answered \(status)")
            throw ExitCode(1)
        }
        print("healthy: \(url) answered 200")
    }

    /// Where to reach a server bound to `listenHost` from the same machine: a wildcard
    /// address (all interfaces, the image's 0.0.0.0) is reached on loopback.
    static func probeHost(listenHost: String?) -> String {
        switch listenHost ?? "" {
        case "", "0.0.0.0": "127.0.0.1"
        case "::", "[::]": "[::1]"
        case let host where host.contains(":") && !host.hasPrefix("["): "[\(host)]"
        case let host: host
        }
    }
}
