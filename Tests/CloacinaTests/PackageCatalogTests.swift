import Testing

@testable import Cloacina

@Suite("Package catalog conflicts")
struct PackageCatalogTests {
    static func report(_ file: String, package: String, sha: String, workflows: [String]) -> PackageReport {
        var report = PackageReport(file: file)
        report.sha256 = sha
        report.info = PackageInfo(name: package, version: "1", abiMajor: 1, abiMinor: 0, toolchain: nil, isSwift: false)
        report.workflows = workflows.map { WorkflowDefinition(name: $0, tasks: [TaskDefinition(id: "t")]) }
        return report
    }

    @Test("first claim wins; identical content is a duplicate, not a conflict")
    func conflicts() {
        let resolved = PackageCatalog.resolveConflicts([
            Self.report("a.so", package: "p", sha: "1", workflows: ["w1", "w2"]),
            Self.report("b.so", package: "q", sha: "2", workflows: ["w3", "w2"]),
            Self.report("c.so", package: "p", sha: "3", workflows: ["w4"]),
            Self.report("d.so", package: "p", sha: "1", workflows: ["w1", "w2"]),
            Self.report("e.so", package: "r", sha: "4", workflows: ["w3"]),
        ])
        #expect(resolved.map(\.isLoaded) == [true, false, false, true, true])
        #expect(
            resolved[1].error
                == PackageLoadError(.conflict, "workflow \"w2\" is already provided by package \"p\" (a.so)")
        )
        #expect(
            resolved[2].error
                == PackageLoadError(.conflict, "package \"p\" is already loaded from a.so with different content")
        )
        #expect(resolved[3].duplicateOf == "a.so")
        #expect(resolved[1].workflows.isEmpty)
    }

    @Test("reports round-trip through JSON")
    func json() throws {
        var loaded = Self.report("a.so", package: "p", sha: "1", workflows: ["w"])
        loaded.workflows[0].tasks = [
            TaskDefinition(id: "a"),
            TaskDefinition(
                id: "b",
                dependencies: ["a"],
                retry: .init(maxAttempts: 3),
                timeout: .seconds(2),
                trigger: .always,
                description: "B"
            ),
        ]
        let rejected = PackageReport(file: "b.so").rejected(PackageLoadError(.elf, "the file is empty"))
        for report in [loaded, rejected] {
            let decoded = try #require(PackageReport(json: report.json))
            #expect(decoded.file == report.file)
            #expect(decoded.info == report.info)
            #expect(decoded.sha256 == report.sha256)
            #expect(decoded.workflows == report.workflows)
            #expect(decoded.error == report.error)
        }
    }
}
