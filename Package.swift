// swift-tools-version:6.2
import PackageDescription

// The products of the SDK package (sdk/Package.swift), as the host, the examples and the tests name them.
let sdkABI = Target.Dependency.product(name: "CloacinaABI", package: "cloacina-sdk")
let sdk = Target.Dependency.product(name: "CloacinaSDK", package: "cloacina-sdk")
let sdkJSON = Target.Dependency.product(name: "CloacinaJSON", package: "cloacina-sdk")
let sdkModel = Target.Dependency.product(name: "CloacinaModel", package: "cloacina-sdk")

let package = Package(
    name: "cloacina",
    products: [
        // The host: `cloacina check`, `workflows`, and later `run` and `serve`.
        .executable(name: "cloacina", targets: ["CloacinaCLI"]),
        // The engine, for Swift programs that embed the runner, and PostgreSQL tenant administration
        // (`import CloacinaPostgresAdmin` for `DatabaseAdmin`).
        .library(name: "Cloacina", targets: ["Cloacina", "CloacinaPostgresAdmin"]),
        // The SDK (`CloacinaSDK`, the header alone as `CloacinaABI`) and the build-workflows plugin are the products of
        // the package in sdk/, which workflow packages depend on instead of this one.

        // Example workflow packages (sources under workflows/), built like any user's package.
        .library(name: "TextAnalytics", type: .dynamic, targets: ["TextAnalytics"]),
        .library(name: "CFingerprint", type: .dynamic, targets: ["CFingerprint"]),
        .library(name: "Orders", type: .dynamic, targets: ["Orders"]),
        .library(name: "BenchWorkflows", type: .dynamic, targets: ["BenchWorkflows"]),

        // The benchmark: standard workloads through the real plugin path, one JSON line each.
        .executable(name: "cloacina-bench", targets: ["CloacinaBench"]),
    ],
    dependencies: [
        // The ABI header, the SDK, JSON and the model, and the build-workflows plugin (no dependencies of its own).
        .package(name: "cloacina-sdk", path: "sdk"),
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
        .target(name: "CloacinaNative", dependencies: ["CFFI", sdkJSON, sdkModel]),
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
                sdkABI,
                sdk,
                "CloacinaSchedule",
                "CloacinaStorage",
                // Named in one file only (StoreRegistry+Builtin.swift): the stores `import Cloacina` users get by
                // URL. The rest of the engine sees `StoreBackend`s.
                "CloacinaSQLite",
                "CloacinaPostgres",
                "CCrypto",
                sdkJSON,
                sdkModel,
                "CloacinaNative",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // PostgreSQL tenant administration: schemas, login roles, the tenant registry, credentials.
        .target(
            name: "CloacinaPostgresAdmin",
            dependencies: ["Cloacina", sdkModel, "CloacinaPostgres", "CloacinaStorage"]
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
                sdkJSON,
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Example workflow packages

        .target(name: "TextAnalytics", dependencies: [sdk], path: "workflows/text-analytics"),
        .target(name: "CFingerprint", dependencies: [sdkABI], path: "workflows/c-fingerprint"),
        .target(name: "Orders", dependencies: [sdk], path: "workflows/orders"),
        .target(name: "BenchWorkflows", dependencies: [sdkABI], path: "workflows/bench"),

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
                "Cloacina", sdkJSON,
                // The PostgreSQL fault proxy (PostgresFaultProxy.swift).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/CloacinaTestSupport"
        ),
        .testTarget(name: "CloacinaJSONTests", dependencies: [sdkJSON]),
        .testTarget(name: "CloacinaModelTests", dependencies: [sdkModel, sdkJSON]),
        .testTarget(name: "CloacinaScheduleTests", dependencies: ["CloacinaSchedule"]),
        .testTarget(
            name: "CloacinaNativeTests",
            dependencies: ["CloacinaNative", sdkJSON, "CloacinaTestSupport"]
        ),
        .testTarget(
            name: "CloacinaTests",
            dependencies: [
                "Cloacina",
                sdkJSON,
                sdkModel,
                sdk,
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
                sdk,
                "CloacinaTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "CloacinaCLITests",
            dependencies: [sdkJSON, "CloacinaTestSupport"]
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
