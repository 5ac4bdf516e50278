// swift-tools-version:6.2
// A workflow package laid out exactly as a user's own: a separate SwiftPM package that depends on the Cloacina SDK
// package (sdk/ in this repository) alone, for the SDK and the build-workflows plugin, so it resolves nothing else.
// Build and install it with:
//   swift package --allow-writing-to-package-directory build-workflows --output DIR
import PackageDescription

let package = Package(
    name: "reports",
    products: [.library(name: "Reports", type: .dynamic, targets: ["Reports"])],
    dependencies: [.package(name: "cloacina-sdk", path: "../../sdk")],
    targets: [
        .target(
            name: "Reports",
            dependencies: [.product(name: "CloacinaSDK", package: "cloacina-sdk")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
