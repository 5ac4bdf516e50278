import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

@Suite("cloacina check and workflows list")
struct CheckCommandTests {
    static func cloacina(_ arguments: String...) throws -> CommandResult {
        try runCommand(TestEnvironment.cloacinaExecutable, arguments)
    }

    static func reports(_ result: CommandResult) throws -> [JSONValue] {
        try #require(try JSONValue(parsing: result.standardOutput).arrayValue)
    }

    @Test("valid packages: exit 0 and the documented JSON shape")
    func validPackages() throws {
        let directory = try TemporaryDirectory("cli-check")
        try compileC(
            ["\(TestEnvironment.repositoryRoot)/workflows/c-fingerprint/c_fingerprint.c"],
            output: directory.file("libCFingerprint.so"),
            flags: ["-shared", "-fPIC"]
        )
        let result = try Self.cloacina(
            "check",
            TestEnvironment.exampleLibrary("TextAnalytics"),
            directory.file("libCFingerprint.so"),
            "--output",
            "json"
        )
        #expect(result.exitStatus == 0, "\(result.standardError)")
        let reports = try Self.reports(result)
        #expect(reports.count == 2)
        let swift = reports[0]
        #expect(swift["file"] == .string(TestEnvironment.exampleLibrary("TextAnalytics")))
        #expect(swift["status"] == "loaded")
        #expect(swift["error"] == .null)
        #expect(swift["package"]?["name"] == "text-analytics")
        #expect(swift["package"]?["version"] == "1.0.0")
        #expect(swift["package"]?["abi"] == "1.1")
        #expect(swift["package"]?["sha256"]?.stringValue?.count == 64)
        let workflow = try #require(swift["workflows"]?[0])
        #expect(workflow["name"] == "word_stats")
        #expect(workflow["description"]?.stringValue?.isEmpty == false)
        #expect(
            workflow["tasks"]?.arrayValue?.map { $0["id"] } == [
                "split_words", "count_words", "longest_word", "letter_stats", "report",
            ]
        )
        #expect(workflow["tasks"]?[4]?["dependencies"] == ["count_words", "longest_word", "letter_stats"])
        #expect(reports[1]["package"]?["name"] == "c-fingerprint")
        #expect(reports[1]["workflows"]?[0]?["tasks"]?[1]?["dependencies"] == ["measure"])
    }

    @Test("a package over CLOACINA_MAX_PACKAGE_BYTES is rejected before it is read, naming the limit")
    func sizeCap() throws {
        let directory = try TemporaryDirectory("cli-size-cap")
        let package = try CorpusPackage().build(in: directory.path, fileName: "libcorpus.so")
        let capped = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["check", package, "--output", "json"],
            environment: ["CLOACINA_MAX_PACKAGE_BYTES": "1000"]
        )
        #expect(capped.exitStatus == 1)
        let report = try #require(try Self.reports(capped).first)
        #expect(report["status"] == "rejected")
        #expect(report["error"]?.stringValue?.contains("larger than the 1000-byte limit") == true, "\(report)")
        #expect(try Self.cloacina("check", package).exitStatus == 0)
    }

    @Test("damaged and foreign files: each rejected with a reason, exit 1, never a signal")
    func damagedFiles() throws {
        let directory = try TemporaryDirectory("cli-damaged")
        let good = try CorpusPackage().build(in: directory.path, fileName: "libgood.so")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: directory.file("half.so")))
        var scribbled = bytes
        for offset in stride(from: 64, to: scribbled.count, by: 16) { scribbled[offset] ^= 0xFF }
        try scribbled.write(to: URL(fileURLWithPath: directory.file("scribbled.so")))
        try "not a library".write(toFile: directory.file("text.so"), atomically: true, encoding: .utf8)
        var crashing = CorpusPackage()
        crashing.name = "crashing"
        crashing.initPrologue = "*(volatile int *)0 = 1;"
        try crashing.build(in: directory.path, fileName: "crash.so")

        let files = ["half.so", "scribbled.so", "text.so", "crash.so", "missing.so"].map(directory.file)
        let result = try runCommand(TestEnvironment.cloacinaExecutable, ["check", "--output", "json"] + files + [good])
        #expect(result.signal == nil)
        #expect(result.exitStatus == 1)
        let reports = try Self.reports(result)
        #expect(reports.map { $0["status"] } == ["rejected", "rejected", "rejected", "rejected", "rejected", "loaded"])
        for report in reports.dropLast() {
            #expect(report["error"]?.stringValue?.isEmpty == false)
            #expect(report["stage"]?.stringValue?.isEmpty == false)
        }
        #expect(reports[0]["error"]?.stringValue?.hasPrefix("elf: truncated") == true)
        #expect(reports[3]["error"]?.stringValue?.contains("SIGSEGV") == true)
        #expect(reports[4]["error"] == "read: cannot open: No such file or directory")

        let text = try runCommand(TestEnvironment.cloacinaExecutable, ["check"] + files)
        #expect(text.exitStatus == 1)
        #expect(text.standardOutput.contains("\(directory.file("text.so")): rejected\n"))
        #expect(text.standardOutput.hasSuffix("5 files: 0 loaded, 5 rejected\n"))
    }

    @Test("usage errors exit 2")
    func usage() throws {
        #expect(try Self.cloacina("check").exitStatus == 2)
        #expect(try Self.cloacina("check", "--output", "yaml", "x.so").exitStatus == 2)
        #expect(try Self.cloacina("check", "--bogus", "x.so").exitStatus == 2)
        #expect(try Self.cloacina("frobnicate").exitStatus == 2)
        let missing = try Self.cloacina("workflows", "list", "--workflows", "/nonexistent/drop")
        #expect(missing.exitStatus == 2)
        #expect(missing.standardError.contains("/nonexistent/drop does not exist"))
        #expect(try Self.cloacina("--help").exitStatus == 0)
    }

    @Test("workflows list: one entry per file of the drop directory, conflicts named")
    func workflowsList() throws {
        let directory = try TemporaryDirectory("cli-list")
        let drop = directory.file("drop")
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
        var first = CorpusPackage()
        first.name = "first"
        first.workflows = [("shared", [.init("a")])]
        try first.build(in: drop, fileName: "a.so")
        var second = CorpusPackage()
        second.name = "second"
        second.workflows = [("shared", [.init("b")])]
        try second.build(in: drop, fileName: "b.so")
        try "ignored".write(toFile: "\(drop)/README.txt", atomically: true, encoding: .utf8)
        try Data().write(to: URL(fileURLWithPath: "\(drop)/.hidden.so.tmp"))

        let result = try Self.cloacina("workflows", "list", "--workflows", drop, "--output", "json")
        #expect(result.exitStatus == 1)
        let reports = try Self.reports(result)
        #expect(reports.map { $0["file"] } == [.string("\(drop)/a.so"), .string("\(drop)/b.so")])
        #expect(reports[0]["status"] == "loaded")
        #expect(
            reports[1]["error"]?.stringValue
                == "conflict: workflow \"shared\" is already provided by package \"first\" (\(drop)/a.so)"
        )

        try FileManager.default.removeItem(atPath: "\(drop)/b.so")
        let clean = try Self.cloacina("workflows", "list", "--workflows", drop)
        #expect(clean.exitStatus == 0)
        #expect(clean.standardOutput.contains("workflow  shared"))

        let empty = directory.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = try Self.cloacina("workflows", "list", "--workflows", empty, "--output", "json")
        #expect(none.exitStatus == 0)
        #expect(none.standardOutput == "[]\n")
    }

    @Test(
        "packages installed by build-workflows (release, into a drop directory) all load",
        .enabled(if: TestEnvironment.variable("CLOACINA_TEST_DROP_DIR") != nil, "set by scripts/test.sh")
    )
    func installedByPlugin() throws {
        let drop = try #require(TestEnvironment.variable("CLOACINA_TEST_DROP_DIR"))
        let names = try FileManager.default.contentsOfDirectory(atPath: drop).sorted()
        #expect(
            names == [
                "libBenchWorkflows.so", "libCFingerprint.so", "libOrders.so", "libReports.so", "libTextAnalytics.so",
            ]
        )
        let result = try Self.cloacina("workflows", "list", "--workflows", drop, "--output", "json")
        #expect(result.exitStatus == 0, "\(result.standardOutput)")
        let reports = try Self.reports(result)
        #expect(reports.map { $0["package"]?["language"] } == ["c", "c", "swift", "swift", "swift"])
        // The C package is compiled by the C compiler: it needs libc only, whatever the Swift toolchain.
        let needed = try runCommand("/usr/bin/env", ["readelf", "-d", "\(drop)/libCFingerprint.so"])
        #expect(!needed.standardOutput.contains("libswiftCore"))
        // Only the two entry points are exported.
        for name in names {
            let symbols = try runCommand(
                "/usr/bin/env",
                ["nm", "-D", "--defined-only", "--extern-only", "\(drop)/\(name)"]
            )
            let exported = symbols.standardOutput.split(separator: "\n").compactMap { $0.split(separator: " ").last }
            #expect(Set(exported) == ["cloacina_package_info", "cloacina_package_init"], "\(name)")
        }
    }
}
