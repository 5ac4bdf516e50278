import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `run`, `serve`, `check` and `workflows list` load through one pipeline, so they judge a file the same way.
@Suite("One load pipeline: run, serve, check and workflows list report alike")
struct PackagePipelineCommandTests {
    @Test("a good package and broken ones (a cycle, a crash in init): every command names the same errors")
    func sameReports() throws {
        let directory = try TemporaryDirectory("pipeline-commands")
        let drop = directory.file("drop")
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
        var good = CorpusPackage()
        good.name = "good"
        good.workflows = [("good_flow", [.init("only")])]
        var cyclic = CorpusPackage()
        cyclic.name = "cyclic"
        cyclic.workflows = [("cyclic_flow", [.init("a", after: ["b"]), .init("b", after: ["a"])])]
        var crashing = CorpusPackage()
        crashing.name = "crashing"
        crashing.workflows = [("crashing_flow", [.init("only")])]
        crashing.initPrologue = "*(volatile int *)0 = 1;"
        let files = [
            try good.build(in: drop, fileName: "a-good.so"),
            try cyclic.build(in: drop, fileName: "b-cyclic.so"),
            try crashing.build(in: drop, fileName: "c-crashing.so"),
        ]
        let environment = ["XDG_CACHE_HOME": directory.file("cache")]
        func cloacina(_ arguments: [String]) throws -> CommandResult {
            try runCommand(TestEnvironment.cloacinaExecutable, arguments, environment: environment)
        }

        // check: the reference.
        let check = try cloacina(["check"] + files + ["--output", "json"])
        #expect(check.exitStatus == 1, "\(check.standardError)")
        let checked = try #require(try JSONValue(parsing: check.standardOutput).arrayValue)
        #expect(checked.map { $0["status"] } == ["loaded", "rejected", "rejected"])
        let errors = checked.map { $0["error"]?.stringValue }
        #expect(errors[1]?.hasPrefix("validate: ") == true, "\(errors)")
        #expect(errors[2]?.contains("SIGSEGV") == true, "\(errors)")

        // workflows list: the same reports for the directory.
        let list = try cloacina(["workflows", "list", "--workflows", drop, "--output", "json"])
        #expect(list.exitStatus == 1)
        let listed = try #require(try JSONValue(parsing: list.standardOutput).arrayValue)
        #expect(listed.map { $0["file"]?.stringValue } == files)
        #expect(listed.map { $0["error"]?.stringValue } == errors)

        // run: skips the broken files with the same words and runs the good one.
        let run = try cloacina([
            "run", "good_flow", "--workflows", drop, "--data-dir", directory.file("run-data"), "--output", "json",
        ])
        #expect(run.exitStatus == 0, "\(run.standardError)")
        #expect(try JSONValue(parsing: run.standardOutput)["status"] == "Completed")
        for index in 1...2 {
            #expect(
                run.standardError.contains("warning: skipping \(files[index]): \(errors[index] ?? "?")"),
                "\(run.standardError)"
            )
        }

        // serve: its first reload reports the same errors per file and serves the good package.
        let daemon = try DaemonProcess(drop: drop, data: directory.file("serve-data"), environment: environment)
        let (status, workflows) = try daemon.request("GET", "/workflows")
        #expect(status == 200)
        let served = try #require(workflows["packages"]?.arrayValue)
        #expect(served.map { $0["file"]?.stringValue } == files)
        #expect(served.map { $0["status"] } == ["serving", "failed", "failed"])
        #expect(served.map { $0["error"]?.stringValue } == errors)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
