// swift-tools-version:6.2
// The workflow-author side of Cloacina, as a package of its own with no dependencies beyond the toolchain: the C ABI
// header, the Swift SDK over it (and the JSON and model modules it needs), and the build-workflows plugin. A user's
// workflow package depends on this package alone, so building it resolves nothing else; the host (the package at
// the repository root) depends on it by path.
import PackageDescription

let package = Package(
    name: "cloacina-sdk",
    products: [
        // What a Swift workflow package links: the SDK over the C ABI, without the engine.
        .library(name: "CloacinaSDK", targets: ["CloacinaSDK"]),
        // The C ABI header alone, for C packages built with SwiftPM.
        .library(name: "CloacinaABI", targets: ["CCloacinaABI"]),
        // JSON values and the workflow model, which the host shares with the SDK.
        .library(name: "CloacinaJSON", targets: ["CloacinaJSON"]),
        .library(name: "CloacinaModel", targets: ["CloacinaModel"]),
        // `swift package build-workflows`: builds workflow products and installs them into a drop directory.
        .plugin(name: "BuildWorkflows", targets: ["BuildWorkflows"]),
    ],
    targets: [
        .target(name: "CCloacinaABI"),
        .target(name: "CloacinaJSON"),
        .target(name: "CloacinaModel", dependencies: ["CCloacinaABI", "CloacinaJSON"]),
        .target(name: "CCloacinaSDKEntry", dependencies: ["CCloacinaABI"]),
        .target(
            name: "CloacinaSDK",
            dependencies: ["CCloacinaABI", "CCloacinaSDKEntry", "CloacinaJSON", "CloacinaModel"]
        ),

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
    ]
)

// Settings every Swift target shares (the same as the host package's): Swift 6 mode with strict concurrency, and the
// upcoming features the server ecosystem has adopted.
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
