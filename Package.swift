// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "claude-telegram-bot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "botserver", targets: ["BotServer"]),
        .library(name: "HTTPCore", targets: ["HTTPCore"]),
        .library(name: "ClaudeRunner", targets: ["ClaudeRunner"]),
        // Runs the Claude Code CLI as its child subreaper: nothing the CLI starts outlives it.
        .executable(name: "claude-reaper", targets: ["ClaudeReaper"]),
    ],
    // Exact versions, so that two builds (an image built a month later) compile the same code.
    // To upgrade one: change its version here, run the tests and scripts/test-image.sh.
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        // Without its Foundation trait: the bot keeps full Foundation out of its memory footprint.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", exact: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-system.git", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // Linux kernel interfaces (epoll, eventfd) that Glibc's module does not export.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .target(
            name: "HTTPCore",
            dependencies: [
                "CLinux", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(name: "ClaudeReaper", path: "Sources/ClaudeReaper"),
        .target(
            name: "ClaudeRunner",
            dependencies: [
                "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .executableTarget(
            name: "BotServer",
            dependencies: [
                "HTTPCore", "ClaudeRunner", "CLinux", "CSQLite", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        // Clients and fake servers shared by the test targets.
        .target(name: "TestSupport", dependencies: ["ClaudeRunner", "CLinux"], path: "Tests/TestSupport"),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore", "TestSupport"]),
        .testTarget(name: "ClaudeRunnerTests", dependencies: ["ClaudeRunner", "TestSupport"]),
        .testTarget(
            name: "BotServerTests",
            dependencies: [
                "BotServer", "HTTPCore", "CSQLite", "TestSupport",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
