// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "cloacina",
    products: [
        // The host: `cloacina check`, `workflows`, and later `run` and `serve`.
        .executable(name: "cloacina", targets: ["CloacinaCLI"]),
        // The engine, for Swift programs that embed the runner, and PostgreSQL tenant administration
        // (`import CloacinaPostgresAdmin` for `DatabaseAdmin`).
        .library(name: "Cloacina", targets: ["Cloacina", "CloacinaPostgresAdmin"]),
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
        .library(name: "BenchWorkflows", type: .dynamic, targets: ["BenchWorkflows"]),

        // The benchmark: standard workloads through the real plugin path, one JSON line each.
        .executable(name: "cloacina-bench", targets: ["CloacinaBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // Already in the graph through Hummingbird; named for the HTTP target's connection handlers.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.27.0"),
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
            name: "CFFI",
            pkgConfig: "libffi",
            providers: [.apt(["libffi-dev"])]
        ),
        .systemLibrary(
            name: "CPostgreSQL",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Calls to C functions whose signature is known only at run time (libffi): native-signature tasks and foreign
        // libraries. Converts context values to C arguments and results to JSON; parses and writes no context.
        .target(name: "CloacinaNative", dependencies: ["CFFI", "CloacinaJSON", "CloacinaModel"]),
        // The storage protocol, its records, and the backend registry (stores chosen by URL scheme).
        .target(name: "CloacinaStorage", dependencies: ["CCrypto", "CloacinaSchedule"]),
        // Cron expressions and schedules: fire times in a time zone across daylight saving changes, and catch-up
        // after downtime. Pure computation (Foundation only for the zone data); nothing stored, nothing started.
        .target(name: "CloacinaSchedule"),
        // The stores, each with its StoreBackend.
        .target(name: "CloacinaSQLite", dependencies: ["CSQLite", "CloacinaSchedule", "CloacinaStorage"]),
        .target(name: "CloacinaPostgres", dependencies: ["CPostgreSQL", "CloacinaSchedule", "CloacinaStorage"]),
        .target(
            name: "Cloacina",
            dependencies: [
                "CCloacinaABI",
                "CloacinaSDK",
                "CloacinaSchedule",
                "CloacinaStorage",
                // Named in one file only (StoreRegistry+Builtin.swift): the stores `import Cloacina` users get by
                // URL. The rest of the engine sees `StoreBackend`s.
                "CloacinaSQLite",
                "CloacinaPostgres",
                "CCrypto",
                "CloacinaJSON",
                "CloacinaModel",
                "CloacinaNative",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // PostgreSQL tenant administration: schemas, login roles, the tenant registry, credentials.
        .target(
            name: "CloacinaPostgresAdmin",
            dependencies: ["Cloacina", "CloacinaModel", "CloacinaPostgres", "CloacinaStorage"]
        ),
        // The host daemon: package generations and hot reload, tenants, services, metrics (no HTTP).
        .target(
            name: "CloacinaDaemon",
            dependencies: [
                "Cloacina",
                "CloacinaSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The daemon's HTTP API (Hummingbird 2), kept in its own target.
        .target(
            name: "CloacinaHTTP",
            dependencies: [
                "Cloacina",
                "CloacinaDaemon",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            // The API's OpenAPI document; OpenAPIDocument.swift embeds it (scripts/embed-openapi.sh).
            exclude: ["openapi.json"]
        ),
        .executableTarget(
            name: "CloacinaCLI",
            dependencies: [
                "Cloacina",
                "CloacinaPostgresAdmin",
                "CloacinaSQLite",
                "CloacinaDaemon",
                "CloacinaHTTP",
                "CloacinaJSON",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
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
        .target(name: "BenchWorkflows", dependencies: ["CCloacinaABI"], path: "workflows/bench"),

        // MARK: Benchmark

        .executableTarget(
            name: "CloacinaBench",
            dependencies: [
                "Cloacina",
                "CloacinaDaemon",
                "CloacinaPostgres",
                "CloacinaSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tests

        .target(
            name: "CloacinaTestSupport",
            dependencies: [
                "Cloacina", "CloacinaJSON",
                // The PostgreSQL fault proxy (PostgresFaultProxy.swift).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/CloacinaTestSupport"
        ),
        .testTarget(name: "CloacinaJSONTests", dependencies: ["CloacinaJSON"]),
        .testTarget(name: "CloacinaModelTests", dependencies: ["CloacinaModel", "CloacinaJSON"]),
        .testTarget(name: "CloacinaScheduleTests", dependencies: ["CloacinaSchedule"]),
        .testTarget(
            name: "CloacinaNativeTests",
            dependencies: ["CloacinaNative", "CloacinaJSON", "CloacinaTestSupport"]
        ),
        .testTarget(
            name: "CloacinaTests",
            dependencies: [
                "Cloacina",
                "CloacinaJSON",
                "CloacinaModel",
                "CloacinaSDK",
                "CloacinaSchedule",
                "CloacinaStorage",
                "CloacinaSQLite",
                "CloacinaPostgres",
                "CloacinaPostgresAdmin",
                "CloacinaTestSupport",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CloacinaDaemonTests",
            dependencies: [
                "Cloacina",
                "CloacinaDaemon",
                "CloacinaHTTP",
                "CloacinaSDK",
                "CloacinaTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
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
