import ClaudeRunner
import Foundation
import Subprocess
import Testing
import TestSupport

@testable import BotServer

/// What can be checked of the deployment without a Docker engine: the runtime image has
/// every library the binary links, the compose file is valid, every variable is documented,
/// and `botserver doctor` reports what is wrong.
@Suite(.timeLimit(.minutes(3))) struct DeploymentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static func read(_ path: String) throws -> String { try String(contentsOfFile: root + "/" + path, encoding: .utf8) }

    /// Packages debian:bookworm-slim has without asking (libc, the C++ runtime, ...).
    static let basePackages: Set<String> = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblzma5", "libcrypt1"]

    @Test func theRuntimeImageInstallsEveryLibraryTheBinaryLinks() async throws {
        let (status, ldd) = try await offCooperativePool { try ChildProcess.run(["ldd", BotProcess.binaryPath]) }
        #expect(status == 0, "\(ldd)")
        var packages = Set<String>()
        for line in ldd.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let arrow = parts.firstIndex(of: "=>"), arrow + 1 < parts.count else { continue }
            let path = String(parts[arrow + 1])
            // The Swift runtime is linked statically into the release image (--static-swift-stdlib).
            guard path.hasPrefix("/lib") || path.hasPrefix("/usr/lib") else { continue }
            let candidates = path.hasPrefix("/usr") ? [path, String(path.dropFirst(4))] : [path, "/usr" + path]
            var owner: String?
            for candidate in candidates {
                let (found, output) = try await offCooperativePool { try ChildProcess.run(["dpkg", "-S", candidate]) }
                if found == 0, let name = output.split(separator: ":").first { owner = String(name); break }
            }
            packages.insert(try #require(owner, "no package owns \(path)"))
        }
        #expect(packages.contains("libsqlite3-0") && packages.contains("libssl3"), "\(packages)")
        let dockerfile = try Self.read("Dockerfile")
        let runtime = try #require(dockerfile.components(separatedBy: "\nFROM ").last)
        let installed = Set(runtime.components(separatedBy: "apt-get install").dropFirst().flatMap { part in
            part.prefix { $0 != "&" }.split(whereSeparator: { $0 == " " || $0 == "\\" || $0 == "\n" }).map(String.init).filter { !$0.hasPrefix("-") }
        })
        for package in packages.subtracting(Self.basePackages) {
            #expect(installed.contains(package), "the runtime stage does not install \(package) (installs \(installed.sorted()))")
        }
        for tool in ["git", "openssh-client", "tini", "ca-certificates"] { #expect(installed.contains(tool), "\(tool)") }
        // Under 600 MB: no curl (HEALTHCHECK runs `botserver healthcheck`), perl purged.
        #expect(!installed.contains("curl") && runtime.contains("dpkg --purge --force-depends perl libperl5.36"))
        #expect(runtime.contains(#"CMD ["/app/botserver", "healthcheck"]"#))
        #expect(dockerfile.contains("strip /out/botserver /out/claude-reaper"))
        // Nothing fetched from Docker Hub beyond the base images (no BuildKit frontend).
        #expect(!dockerfile.contains("# syntax="))
        #expect(runtime.contains("USER bot") && runtime.contains("HEALTHCHECK") && runtime.contains("STOPSIGNAL SIGTERM"))
        #expect(runtime.contains(#"VOLUME ["/data", "/workspace", "/home/claude"]"#))
        // Claude and its tools run as claude, apart from bot's /data (issue: Claude's tools
        // must not reach the bot's secrets); the ids are fixed so volumes keep their owners.
        #expect(runtime.contains("groupadd --gid 10001 bot") && runtime.contains("groupadd --gid 10002 claude"))
        #expect(runtime.contains("useradd --uid 10001 --gid bot --groups claude"))
        #expect(runtime.contains("useradd --uid 10002 --gid claude --home-dir /home/claude"))
        #expect(runtime.contains("chown bot:bot /data && chmod 0700 /data"))
        #expect(runtime.contains("chown claude:claude /workspace /home/claude"))
        #expect(runtime.contains("chmod 2775 /workspace && chmod 0700 /home/claude"))
        #expect(runtime.contains("CLAUDE_HOME=/home/claude") && runtime.contains("CLAUDE_USER=claude"))
        // The reaper's capabilities: set after chown (which clears them), setcap not left behind.
        #expect(runtime.contains("chown root:bot /app/claude-reaper && chmod 0750 /app/claude-reaper"))
        let setcapStep = try #require(runtime.components(separatedBy: "\nRUN ").first { $0.contains("setcap cap_") })
        let order = ["chown root:bot /app/claude-reaper", "setcap cap_setuid,cap_setgid+ep /app/claude-reaper", "dpkg --purge libcap2-bin"]
        let positions = order.compactMap { setcapStep.range(of: $0)?.lowerBound }
        #expect(positions.count == order.count && positions == positions.sorted(), "\(setcapStep)")
        // Claude Code: the tests' pinned CLI, by the tests' own script, never updating itself.
        #expect(dockerfile.contains("FROM debian:bookworm-slim AS claude") && dockerfile.contains("COPY scripts/install-claude-cli.sh"))
        #expect(dockerfile.contains("bash scripts/install-claude-cli.sh") && !dockerfile.contains("claude.ai/install.sh"))
        #expect(runtime.contains("COPY --from=claude --chown=root:root /out/claude /usr/local/bin/claude"))
        #expect(runtime.contains("DISABLE_AUTOUPDATER=1"))
        #expect(ClaudeConfiguration.minimalEnvironment(from: ["DISABLE_AUTOUPDATER": "1"], home: "/h")["DISABLE_AUTOUPDATER"] == "1")
        #expect(runtime.hasSuffix("CMD [\"serve\"]\n") && runtime.components(separatedBy: "\nUSER ").last?.hasPrefix("bot\n") == true)
        #expect(dockerfile.contains("--static-swift-stdlib --product botserver") && dockerfile.contains("--product claude-reaper"))
        #expect(runtime.contains("/out/claude-reaper /app/"), "claude-reaper must sit beside botserver")
    }

    @Test func theComposeFileIsValidAndHasWhatCoolifyNeeds() async throws {
        let script = """
            import json, sys, yaml
            print(json.dumps(yaml.safe_load(open(sys.argv[1]))))
            """
        let (status, output) = try await offCooperativePool {
            try ChildProcess.run(["python3", "-c", script, Self.root + "/deploy/docker-compose.yml"])
        }
        #expect(status == 0, "\(output)")
        let compose = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let service = try #require((compose["services"] as? [String: Any])?["botserver"] as? [String: Any])
        #expect(service["build"] != nil && service["restart"] as? String == "unless-stopped")
        #expect((service["volumes"] as? [String])?.sorted() == ["bot-data:/data", "bot-workspace:/workspace", "claude-home:/home/claude"])
        let environment = service["environment"] as? [String: Any] ?? [:]
        #expect(environment["CLAUDE_HOME"] as? String == "/home/claude" && environment["DATA_DIR"] as? String == "/data")
        // File capabilities need the defaults: no-new-privileges would make the kernel ignore them.
        let securityOptions = (service["security_opt"] as? [String] ?? []).joined(separator: " ")
        #expect(!securityOptions.contains("no-new-privileges"), "\(securityOptions)")
        for capability in service["cap_drop"] as? [String] ?? [] {
            #expect(!["ALL", "SETUID", "SETGID"].contains(capability.uppercased()), "\(capability)")
        }
        #expect(service["stop_grace_period"] as? String == "30s" && service["healthcheck"] != nil && service["env_file"] != nil)
        // Coolify writes the Traefik labels itself; a second router would compete with its own.
        #expect(service["labels"] == nil)
        let healthcheck = (service["healthcheck"] as? [String: Any])?["test"] as? [String] ?? []
        #expect(healthcheck == ["CMD", "/app/botserver", "healthcheck"], "\(healthcheck)")
        #expect(Set((compose["volumes"] as? [String: Any] ?? [:]).keys) == ["bot-data", "bot-workspace", "claude-home"])
    }

    /// Two builds a month apart compile the same dependencies; a copied .env.example sets only
    /// what must be filled in (an active default, even empty, would override the image's).
    @Test func dependenciesArePinnedAndTheEnvExampleRestatesNoDefault() throws {
        let manifest = try Self.read("Package.swift")
        let packages = manifest.components(separatedBy: ".package(url:").dropFirst()
        #expect(packages.count >= 7)
        for package in packages { #expect(package.contains("exact: \""), "not pinned exactly: \(package.prefix(80))") }
        let active = try Self.read("deploy/.env.example").split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("=") }
        #expect(active.sorted() == ["ALLOWED_USER_IDS=", "PUBLIC_URL=", "TELEGRAM_BOT_TOKEN=", "TELEGRAM_WEBHOOK_SECRET="], "\(active)")
    }

    /// Every variable the code reads is in .env.example, and .env.example lists nothing unused.
    @Test func everyVariableIsDocumentedAndNoneIsStale() throws {
        var read = Set<String>()
        let patterns = [
            #"(?:optional|required|integer|choice)\(\s*"([A-Z][A-Z0-9_]+)""#, #"userIDs\(environment, "([A-Z][A-Z0-9_]+)""#,
            #"(?:value|seconds)\(\s*"([A-Z][A-Z0-9_]+)""#,
        ]
        let sources = FileManager.default.enumerator(atPath: Self.root + "/Sources")!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        for file in sources {
            let text = try Self.read("Sources/" + file)
            for pattern in patterns {
                let regex = try NSRegularExpression(pattern: pattern)
                for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    read.insert(String(text[Range(match.range(at: 1), in: text)!]))
                }
            }
        }
        read.subtract(["HOME", "PATH"])  // the system's, not the bot's settings
        // Every secret may instead be given as a file (Environment+SecretFiles.swift).
        read.formUnion(BotServer.Environment.secretNames.map { $0 + "_FILE" })
        #expect(read.count > 30, "\(read.sorted())")
        let example = try Self.read("deploy/.env.example")
        let documented = Set(example.split(separator: "\n").compactMap { line -> String? in
            let text = line.hasPrefix("# ") ? line.dropFirst(2) : line[...]
            guard let equals = text.firstIndex(of: "="), text[..<equals].allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }),
                !text[..<equals].isEmpty else { return nil }
            return String(text[..<equals])
        })
        for name in read.subtracting(documented).sorted() { Issue.record("\(name) is read by the code but not in deploy/.env.example") }
        // Passed through to Claude (ClaudeConfiguration.minimalEnvironment) or used by compose.
        let otherwiseUsed: Set<String> = ["ANTHROPIC_API_KEY"]
        for name in documented.subtracting(read).subtracting(otherwiseUsed).sorted() {
            Issue.record("\(name) is in deploy/.env.example but nothing reads it")
        }
        let readme = try Self.read("README.md")
        for name in read.sorted() where !readme.contains("`\(name)`") { Issue.record("\(name) is not in the README's table") }
    }

    /// The image's HEALTHCHECK (no curl in the image): 0 while the bot answers /healthz, 1
    /// when nothing listens; it needs only PORT and LISTEN_HOST, none of the secrets.
    @Test func healthcheckExitsZeroOnlyWhileTheBotAnswers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let probe = ["PATH": "/usr/bin:/bin", "PORT": String(port), "LISTEN_HOST": "0.0.0.0"]
        let (status, _) = try await BotProcess.run(environment: BotProcess.environment(dataDirectory: directory.path, port: port)) {
            execution in
            #expect(await waitForHTTP(port: port, path: "/healthz"))
            let up = try await BotProcess.command(["healthcheck"], environment: probe)
            #expect(up.status == .exited(0) && up.output.contains("healthy"), "\(up.output)\(up.log)")
            try execution.send(signal: .terminate)
        }
        #expect(status == .exited(0))
        let down = try await BotProcess.command(["healthcheck", "--timeout", "2"], environment: probe)
        #expect(down.status == .exited(1) && down.output.contains("unhealthy"), "\(down.output)\(down.log)")
        #expect(HealthcheckCommand.probeHost(listenHost: "::") == "[::1]" && HealthcheckCommand.probeHost(listenHost: nil) == "127.0.0.1")
        #expect(HealthcheckCommand.probeHost(listenHost: "10.1.2.3") == "10.1.2.3")
    }

    @Test func doctorReportsEachCheckAndFailsWhenOneFails() async throws {
        let fake = try await FakeBotAPI.start()
        defer { fake.process.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var environment = BotProcess.environment(dataDirectory: directory.path + "/data", port: 0, extra: [
            "TELEGRAM_API_BASE_URL": fake.baseURL, "UPDATE_MODE": "polling", "ALLOWED_USER_IDS": "1001",
            "CLAUDE_BIN": ClaudeCLI.testBinary, "ANTHROPIC_API_KEY": "sk-test", "HOME": directory.path,
        ])
        let good = try await BotProcess.command(["doctor"], environment: environment)
        #expect(good.status == .exited(0), "\(good.output)\(good.log)")
        for name in ["configuration", "tool isolation", "database", "workspace", "claude", "git", "claude login", "telegram token", "webhook"] {
            #expect(good.output.contains("✔ \(name):"), "\(name): \(good.output)")
        }
        #expect(good.output.contains("@fake_bot"))
        #expect(!good.output.contains(BotProcess.token))

        environment["CLAUDE_BIN"] = "/nonexistent/claude"
        try await fake.setWebhookState(url: "https://bot.example.com/telegram/webhook")
        let bad = try await BotProcess.command(["doctor"], environment: environment)
        #expect(bad.status == .exited(1))
        #expect(bad.output.contains("✘ claude:") && bad.output.contains("CLAUDE_BIN"))
        #expect(bad.output.contains("✘ webhook:") && bad.output.contains("botserver webhook delete"))
        #expect(bad.output.contains("2 of 9 checks failed"), "\(bad.output)")

        environment["ALLOWED_USER_IDS"] = nil
        let unconfigured = try await BotProcess.command(["doctor"], environment: environment)
        #expect(unconfigured.status == .exited(1) && unconfigured.output.contains("✘ configuration: ALLOWED_USER_IDS"))
    }
}
