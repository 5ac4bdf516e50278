import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `executions pause|resume|retry|rerun` through real processes and a compiled package whose every task body
/// appends `<execution> <task> <attempt>` to a file, so what ran is counted, not inferred from statuses.
@Suite("cloacina executions pause, resume, retry and rerun")
struct ExecutionControlCommandTests {
    struct Fixture {
        let directory: TemporaryDirectory
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }
        var invocations: String { directory.file("invocations") }
        /// While this file exists, task `b` fails.
        var broken: String { directory.file("broken") }

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
            var package = CorpusPackage()
            package.name = "controlled"
            package.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
            package.workflows = [("flow", [.init("a"), .init("b", after: ["a"]), .init("c", after: ["b"])])]
            package.taskPrologue = """
                {
                    char line[256];
                    int n = snprintf(line, sizeof line, "%s %s %u\\n", call->execution_id, call->task_id, call->attempt);
                    int f = open("\(invocations)", O_WRONLY | O_APPEND | O_CREAT, 0600);
                    if (f >= 0) { (void)!write(f, line, (size_t)n); close(f); }
                    if (strcmp(call->task_id, "b") == 0 && access("\(broken)", F_OK) == 0) {
                        static const char message[] = "b is broken";
                        output->data = host->alloc(sizeof message - 1);
                        memcpy(output->data, message, sizeof message - 1);
                        output->len = sizeof message - 1;
                        return CLOACINA_TASK_FAILED;
                    }
                }
                """
            try package.build(in: drop, fileName: "libcontrolled.so")
        }

        func cloacina(_ arguments: [String]) throws -> (CommandResult, JSONValue) {
            var all = arguments + ["--data-dir", data]
            if arguments.first == "run" || arguments.contains("--latest") { all += ["--workflows", drop] }
            let result = try runCommand(TestEnvironment.cloacinaExecutable, all)
            return (result, (try? JSONValue(parsing: result.standardOutput)) ?? .null)
        }

        /// How many times each task of `execution` was invoked.
        func invoked(_ execution: String) -> [String: Int] {
            let text = (try? String(contentsOfFile: invocations, encoding: .utf8)) ?? ""
            var counts: [String: Int] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 3, parts[0] == execution { counts[String(parts[1]), default: 0] += 1 }
            }
            return counts
        }
    }

    @Test("retry runs only the failed task and what it skipped; rerun runs everything; both link their origin")
    func retryAndRerun() throws {
        let fixture = try Fixture("cli-control-retry")
        FileManager.default.createFile(atPath: fixture.broken, contents: Data())
        let (failed, failedJSON) = try fixture.cloacina(["run", "flow", "--output", "json"])
        #expect(failed.exitStatus == 1, "\(failed.standardError)")
        #expect(failedJSON["status"] == "Failed")
        let origin = try #require(failedJSON["execution_id"]?.stringValue)
        let failedB = fixture.invoked(origin)["b"] ?? 0
        #expect(fixture.invoked(origin)["a"] == 1 && failedB >= 1 && fixture.invoked(origin)["c"] == nil)

        try FileManager.default.removeItem(atPath: fixture.broken)
        let (retry, retryJSON) = try fixture.cloacina([
            "executions", "retry", String(origin.prefix(8)), "--output", "json",
        ])
        #expect(retry.exitStatus == 0, "\(retry.standardError)")
        #expect(retryJSON["status"] == "Completed")
        #expect(retryJSON["retry_of"]?.stringValue == origin)
        let retried = try #require(retryJSON["execution_id"]?.stringValue)
        // a completed in the origin: reused, not run again; b and c ran once.
        #expect(fixture.invoked(retried) == ["b": 1, "c": 1])
        #expect(fixture.invoked(origin)["b"] == failedB)

        let (again, againText) = try fixture.cloacina(["executions", "retry", retried])
        #expect(again.exitStatus == 1)
        #expect(again.standardError.contains("there is no failure to retry from"), "\(again.standardError)")
        #expect(againText == .null)

        let (rerun, rerunJSON) = try fixture.cloacina(["executions", "rerun", origin, "--latest", "--output", "json"])
        #expect(rerun.exitStatus == 0, "\(rerun.standardError)")
        #expect(rerunJSON["rerun_of"]?.stringValue == origin)
        let rerunID = try #require(rerunJSON["execution_id"]?.stringValue)
        #expect(fixture.invoked(rerunID) == ["a": 1, "b": 1, "c": 1])

        let (unknown, _) = try fixture.cloacina(["executions", "retry", "00000000-0000-0000-0000-000000000000"])
        #expect(unknown.exitStatus == 2, "\(unknown.standardError)")
    }

    @Test("a paused execution is not run by resume-all; resume ID runs it here once; an ended one cannot be paused")
    func pauseAndResume() throws {
        let fixture = try Fixture("cli-control-pause")
        let (submitted, submittedJSON) = try fixture.cloacina(["run", "flow", "--no-wait", "--output", "json"])
        #expect(submitted.exitStatus == 0, "\(submitted.standardError)")
        let id = try #require(submittedJSON["execution_id"]?.stringValue)
        let (pause, pauseJSON) = try fixture.cloacina(["executions", "pause", id, "--output", "json"])
        #expect(pause.exitStatus == 0, "\(pause.standardError)")
        #expect(pauseJSON["paused"] == true)

        // A follower started now prints the history so far, then what comes as another process runs it.
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: TestEnvironment.cloacinaExecutable)
        follower.arguments = ["executions", "events", id, "--follow", "--output", "json", "--data-dir", fixture.data]
        let pipe = Pipe()
        follower.standardOutput = pipe
        follower.standardInput = FileHandle.nullDevice
        try follower.run()
        var followed = Data()
        while !String(decoding: followed, as: UTF8.self).contains("execution_paused") {
            let chunk = pipe.fileHandleForReading.availableData
            try #require(
                !chunk.isEmpty,
                "the follower ended before the pause: \(String(decoding: followed, as: UTF8.self))"
            )
            followed += chunk
        }

        let (all, allJSON) = try fixture.cloacina(["executions", "resume", "--output", "json"])
        #expect(all.exitStatus == 0, "\(all.standardError)")
        #expect(allJSON.arrayValue?.first?["paused"] == true, "\(all.standardOutput)")
        #expect(fixture.invoked(id).isEmpty)

        let (resume, resumeJSON) = try fixture.cloacina(["executions", "resume", id, "--output", "json"])
        #expect(resume.exitStatus == 0, "\(resume.standardError)")
        #expect(resumeJSON["status"] == "Completed" && resumeJSON["paused"] == false)
        #expect(fixture.invoked(id) == ["a": 1, "b": 1, "c": 1])
        // The follower saw the run through to its end, and ended by itself.
        followed += pipe.fileHandleForReading.readDataToEndOfFile()
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 0)
        let lines = String(decoding: followed, as: UTF8.self).split(separator: "\n")
        let followedKinds = try lines.map { try JSONValue(parsing: Array($0.utf8))["kind"]?.stringValue ?? "" }
        #expect(followedKinds.first == "execution_created" && followedKinds.last == "execution_completed")
        #expect(followedKinds.filter { $0 == "task_completed" }.count == 3, "\(followedKinds)")

        let (ended, _) = try fixture.cloacina(["executions", "pause", id])
        #expect(ended.exitStatus == 1)
        #expect(ended.standardError.contains("already ended (Completed)"), "\(ended.standardError)")
        let (events, eventsJSON) = try fixture.cloacina(["executions", "events", id, "--output", "json"])
        #expect(events.exitStatus == 0)
        let kinds = eventsJSON["events"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
        #expect(kinds.contains("execution_paused") && kinds.contains("execution_unpaused"), "\(kinds)")
    }
}
