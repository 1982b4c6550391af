// swift-tools-version: 6.1
// bench/telegram-client: our HTTPCore client sending Bot API sendMessage calls, measured
// against Python's http.client and curl in the same run (see bench/README.md). A package
// of its own that uses the product's HTTPCore by path; the product never depends on it.
import PackageDescription

// SwiftPM names a path dependency after its folder, so the repository's package is known
// as whatever its clone is called ("main", "claude-telegram-bot", ...): work it out.
let repositoryIdentity = String(
    Context.packageDirectory.split(separator: "/").dropLast(2).last ?? "claude-telegram-bot"
).lowercased()

let package = Package(
    name: "telegram-client-bench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "client-bench", targets: ["ClientBench"]),
        .executable(name: "stub-server", targets: ["StubServer"]),
    ],
    dependencies: [
        .package(path: "../.."),
        // The version the main package already uses (HTTPServer takes a Logger).
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "ClientBench",
            dependencies: [.product(name: "HTTPCore", package: repositoryIdentity)]),
        .executableTarget(
            name: "StubServer",
            dependencies: [
                .product(name: "HTTPCore", package: repositoryIdentity),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
