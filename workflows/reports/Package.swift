// swift-tools-version:6.2
// A workflow package laid out exactly as a user's own: a separate SwiftPM package that depends on Cloacina for the
// SDK and the build-workflows plugin. Build and install it with:
//   swift package --allow-writing-to-package-directory build-workflows --output DIR
import PackageDescription

let package = Package(
    name: "reports",
    products: [.library(name: "Reports", type: .dynamic, targets: ["Reports"])],
    dependencies: [.package(name: "cloacina", path: "../..")],
    targets: [
        .target(
            name: "Reports",
            dependencies: [.product(name: "CloacinaSDK", package: "cloacina")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
