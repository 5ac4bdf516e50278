import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// A user's workflow package outside the repository, over the SDK package (`sdk/`) alone: it resolves no other
/// package, `build-workflows` comes with it, and the `.so` it builds loads in the host.
@Suite("A workflow package over the SDK package alone")
struct SDKPackageTests {
    static let manifest = """
        // swift-tools-version:6.2
        import PackageDescription

        let package = Package(
            name: "outside",
            products: [.library(name: "Outside", type: .dynamic, targets: ["Outside"])],
            dependencies: [.package(name: "cloacina-sdk", path: "\(TestEnvironment.repositoryRoot)/sdk")],
            targets: [
                .target(
                    name: "Outside",
                    dependencies: [.product(name: "CloacinaSDK", package: "cloacina-sdk")],
                    swiftSettings: [.swiftLanguageMode(.v6)]
                )
            ]
        )

        """

    static let source = """
        import CloacinaSDK

        let outside = WorkflowPackage(name: "outside", version: "1.0.0") {
            Workflow("greet", description: "One task, built outside the repository") {
                WorkflowTask("hello") { ctx in
                    ctx["greeting"] = .string("hello, \\(try ctx.string("name"))")
                }
            }
            Workflow("nap", description: "An async task that awaits, within a time limit") {
                WorkflowTask("nap", timeout: .milliseconds(500)) { ctx in
                    let milliseconds = try ctx.int("ms")
                    try await Task.sleep(for: .milliseconds(milliseconds))
                    ctx["napped_ms"] = .int(milliseconds)
                }
            }
        }

        @c(cloacina_swift_package) func cloacinaSwiftPackage() -> UnsafeRawPointer { outside.exported }

        """

    /// `swift package ARGUMENTS` on the package in `directory`, with its build products in `directory/.build`.
    static func swiftPackage(_ directory: String, _ arguments: [String]) throws -> CommandResult {
        try runCommand(
            "/usr/bin/env",
            ["swift", "package", "--package-path", directory, "--scratch-path", "\(directory)/.build"] + arguments
        )
    }

    @Test("resolves only cloacina-sdk, builds with build-workflows in release, and the .so loads and runs in the host")
    func outsidePackage() throws {
        let directory = try TemporaryDirectory("sdk-package")
        let package = directory.path
        #expect(!package.hasPrefix(TestEnvironment.repositoryRoot + "/"))
        try FileManager.default.createDirectory(
            atPath: "\(package)/Sources/Outside",
            withIntermediateDirectories: true
        )
        try Self.manifest.write(toFile: "\(package)/Package.swift", atomically: true, encoding: .utf8)
        try Self.source.write(toFile: "\(package)/Sources/Outside/Outside.swift", atomically: true, encoding: .utf8)

        let resolve = try Self.swiftPackage(package, ["resolve"])
        try #require(resolve.exitStatus == 0, "\(resolve.standardOutput)\(resolve.standardError)")
        let shown = try Self.swiftPackage(package, ["show-dependencies", "--format", "json"])
        try #require(shown.exitStatus == 0, "\(shown.standardError)")
        let graph = try JSONValue(parsing: shown.standardOutput)
        let dependencies = try #require(graph["dependencies"]?.arrayValue)
        #expect(dependencies.map { $0["name"] } == ["cloacina-sdk"], "\(shown.standardOutput)")
        #expect(dependencies.first?["dependencies"] == [], "\(shown.standardOutput)")
        // Nothing was fetched: no repository clones, no checkouts, no pins.
        for cache in ["checkouts", "repositories"] {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: "\(package)/.build/\(cache)")) ?? []
            #expect(contents.isEmpty, "\(cache): \(contents)")
        }
        if let resolved = FileManager.default.contents(atPath: "\(package)/Package.resolved") {
            let pins = try JSONValue(parsing: String(decoding: resolved, as: UTF8.self))["pins"]
            #expect(pins == nil || pins == [], "Package.resolved pins \(pins ?? .null)")
        }

        let drop = "\(package)/drop"
        let build = try Self.swiftPackage(
            package,
            ["--allow-writing-to-package-directory", "build-workflows", "--output", drop]
        )
        try #require(build.exitStatus == 0, "\(build.standardOutput)\(build.standardError)")
        let library = "\(drop)/libOutside.so"
        #expect(FileManager.default.fileExists(atPath: library), "\(build.standardOutput)")
        #expect(FileManager.default.fileExists(atPath: "\(package)/.build/release/libOutside.so"))

        let check = try runCommand(TestEnvironment.cloacinaExecutable, ["check", library, "--output", "json"])
        #expect(check.exitStatus == 0, "\(check.standardOutput)\(check.standardError)")
        let report = try #require(try JSONValue(parsing: check.standardOutput).arrayValue?.first)
        #expect(report["status"] == "loaded", "\(report)")
        #expect(report["package"]?["name"] == "outside")
        #expect(report["package"]?["language"] == "swift")
        #expect(report["workflows"]?[0]?["name"] == "greet")
        #expect(report["workflows"]?[0]?["tasks"]?.arrayValue?.map { $0["id"] } == ["hello"])
        #expect(report["workflows"]?[1]?["name"] == "nap")

        let run = try runCommand(
            TestEnvironment.cloacinaExecutable,
            [
                "run", "greet", "--workflows", drop, "--data-dir", directory.file("data"), "--context",
                #"{"name": "world"}"#, "--output", "json",
            ]
        )
        #expect(run.exitStatus == 0, "\(run.standardOutput)\(run.standardError)")
        let result = try JSONValue(parsing: run.standardOutput)
        #expect(result["status"] == "Completed", "\(run.standardOutput)")
        #expect(result["final_context"]?["greeting"] == "hello, world")

        // The async task awaits and completes, and is stopped at its time limit when it would sleep past it.
        for (milliseconds, status) in [(20, "Completed"), (60_000, "Failed")] {
            let napped = try runCommand(
                TestEnvironment.cloacinaExecutable,
                [
                    "run", "nap", "--workflows", drop, "--data-dir", directory.file("data"), "--context",
                    #"{"ms": \#(milliseconds)}"#, "--output", "json",
                ]
            )
            let json = try JSONValue(parsing: napped.standardOutput)
            #expect(json["status"] == .string(status), "\(napped.standardOutput)\(napped.standardError)")
            if status == "Completed" {
                #expect(json["final_context"]?["napped_ms"] == 20)
            } else {
                #expect(json["tasks"]?[0]?["error"]?.stringValue?.contains("timed out") == true, "\(json)")
                #expect(json["final_context"]?["napped_ms"] == nil)
            }
        }
    }
}
