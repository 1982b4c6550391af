// swift-tools-version: 6.1
// bench/claude-runner: ClaudeRunner's latency from send to the first text delta and to the
// result, a warm session (one CLI process for every message) against a new process per
// message, with the real Claude Code CLI and the fake Messages API (see bench/README.md).
// A package of its own that uses the product's ClaudeRunner by path; the product never
// depends on it.
import PackageDescription

// SwiftPM names a path dependency after its folder, so the repository's package is known
// as whatever its clone is called ("main", "claude-telegram-bot", ...): work it out.
let repositoryIdentity = String(
    Context.packageDirectory.split(separator: "/").dropLast(2).last ?? "claude-telegram-bot"
).lowercased()

let package = Package(
    name: "claude-runner-bench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runner-bench", targets: ["RunnerBench"]),
    ],
    dependencies: [
        .package(path: "../.."),
        // The version the main package already uses (ClaudeSession takes a Logger).
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "RunnerBench",
            dependencies: [
                .product(name: "ClaudeRunner", package: repositoryIdentity),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
