// swift-tools-version: 6.1
// The reference server of bench/webhook: a minimal Hummingbird 2 app doing what the
// bot's webhook does at the HTTP level. A package of its own, never a dependency of
// the product.
import PackageDescription

let package = Package(
    name: "reference-hummingbird",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "reference-server", targets: ["ReferenceServer"])
    ],
    dependencies: [
        // Pinned exactly so every run measures the same reference.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "ReferenceServer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ])
    ],
    swiftLanguageModes: [.v6]
)
