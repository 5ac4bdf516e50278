// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "cloacina",
    products: [
        // The host: `cloacina check`, `workflows`, and later `run` and `serve`.
        .executable(name: "cloacina", targets: ["CloacinaCLI"]),
        // The engine, for Swift programs that embed the runner.
        .library(name: "Cloacina", targets: ["Cloacina"]),
        // What a Swift workflow package links: the SDK over the C ABI, without the engine.
        .library(name: "CloacinaSDK", targets: ["CloacinaSDK"]),
        // The C ABI header alone, for C packages built with SwiftPM.
        .library(name: "CloacinaABI", targets: ["CCloacinaABI"]),
        // `swift package build-workflows`: builds workflow products and installs them into a drop directory.
        .plugin(name: "BuildWorkflows", targets: ["BuildWorkflows"]),

        // Example workflow packages (sources under workflows/), built like any user's package.
        .library(name: "TextAnalytics", type: .dynamic, targets: ["TextAnalytics"]),
        .library(name: "CFingerprint", type: .dynamic, targets: ["CFingerprint"]),
        .library(name: "Orders", type: .dynamic, targets: ["Orders"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // MARK: ABI and SDK (what plugins link; no dependencies beyond the toolchain)

        .target(name: "CCloacinaABI"),
        .target(name: "CloacinaJSON"),
        .target(name: "CloacinaModel", dependencies: ["CCloacinaABI", "CloacinaJSON"]),
        .target(name: "CCloacinaSDKEntry", dependencies: ["CCloacinaABI"]),
        .target(
            name: "CloacinaSDK",
            dependencies: ["CCloacinaABI", "CCloacinaSDKEntry", "CloacinaJSON", "CloacinaModel"]
        ),

        // MARK: Host

        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CPostgreSQL",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(name: "CloacinaStorage"),
        .target(name: "CloacinaSQLite", dependencies: ["CSQLite", "CloacinaStorage"]),
        .target(name: "CloacinaPostgres", dependencies: ["CPostgreSQL", "CloacinaStorage"]),
        .target(
            name: "Cloacina",
            dependencies: [
                "CCloacinaABI",
                "CloacinaSDK",
                "CloacinaStorage",
                "CloacinaSQLite",
                "CloacinaPostgres",
                "CCrypto",
                "CloacinaJSON",
                "CloacinaModel",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "CloacinaCLI",
            dependencies: [
                "Cloacina",
                "CloacinaJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tooling

        .plugin(
            name: "BuildWorkflows",
            capability: .command(
                intent: .custom(
                    verb: "build-workflows",
                    description: "Build workflow packages in release mode and install each .so into a drop directory"
                ),
                permissions: [
                    .writeToPackageDirectory(reason: "Installs the built workflow packages into the drop directory")
                ]
            )
        ),

        // MARK: Example workflow packages

        .target(name: "TextAnalytics", dependencies: ["CloacinaSDK"], path: "workflows/text-analytics"),
        .target(name: "CFingerprint", dependencies: ["CCloacinaABI"], path: "workflows/c-fingerprint"),
        .target(name: "Orders", dependencies: ["CloacinaSDK"], path: "workflows/orders"),

        // MARK: Tests

        .target(
            name: "CloacinaTestSupport",
            dependencies: ["Cloacina", "CloacinaJSON"],
            path: "Tests/CloacinaTestSupport"
        ),
        .testTarget(name: "CloacinaJSONTests", dependencies: ["CloacinaJSON"]),
        .testTarget(name: "CloacinaModelTests", dependencies: ["CloacinaModel", "CloacinaJSON"]),
        .testTarget(
            name: "CloacinaTests",
            dependencies: [
                "Cloacina",
                "CloacinaJSON",
                "CloacinaModel",
                "CloacinaSDK",
                "CloacinaStorage",
                "CloacinaSQLite",
                "CloacinaPostgres",
                "CloacinaTestSupport",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CloacinaCLITests",
            dependencies: ["CloacinaJSON", "CloacinaTestSupport"]
        ),
    ]
)

// Settings every Swift target shares: Swift 6 mode with strict concurrency, and the upcoming features the
// server ecosystem has adopted.
for target in package.targets where target.type != .system && target.type != .plugin {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
    ])
    target.swiftSettings = settings
}
