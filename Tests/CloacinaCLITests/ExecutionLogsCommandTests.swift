import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `executions logs` through real processes (worker processes run the tasks, as `run` does by default) and a
/// compiled package whose tasks log lines.
@Suite("cloacina executions logs")
struct ExecutionLogsCommandTests {
    struct Fixture {
        let directory: TemporaryDirectory
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
            var package = CorpusPackage()
            package.name = "chatty"
            package.workflows = [("flow", [.init("a"), .init("b", after: ["a"])])]
            // Task a logs a warning with a password, then six numbered lines; b logs only "corpus task ran".
            package.taskPrologue = """
                if (strcmp(call->task_id, "a") == 0) {
                    host->log(call, CLOACINA_LOG_WARNING, "using postgresql://u:s3cret@db/app");
                    char line[32];
                    for (int i = 1; i <= 6; i++) {
                        snprintf(line, sizeof line, "line %d\\nof a", i);
                        host->log(call, CLOACINA_LOG_DEBUG, line);
                    }
                }
                """
            try package.build(in: drop, fileName: "libchatty.so")
        }

        func cloacina(_ arguments: [String]) throws -> (CommandResult, JSONValue) {
            var all = arguments + ["--data-dir", data]
            if arguments.first == "run" { all += ["--workflows", drop] }
            let result = try runCommand(TestEnvironment.cloacinaExecutable, all)
            return (result, (try? JSONValue(parsing: result.standardOutput)) ?? .null)
        }
    }

    @Test("shows each task's lines with level and attempt, filtered, redacted, and says how many were dropped")
    func logs() throws {
        let fixture = try Fixture("cli-logs")
        let (run, runJSON) = try fixture.cloacina(["run", "flow", "--max-log-lines", "5", "--output", "json"])
        #expect(run.exitStatus == 0, "\(run.standardError)")
        let id = try #require(runJSON["execution_id"]?.stringValue)

        let (json, logs) = try fixture.cloacina(["executions", "logs", id, "--output", "json"])
        #expect(json.exitStatus == 0, "\(json.standardError)")
        let lines = logs["lines"]?.arrayValue ?? []
        #expect(
            lines.compactMap { $0["message"]?.stringValue } == [
                "using postgresql://u:***@db/app", "line 1\nof a", "line 2\nof a", "line 3\nof a", "line 4\nof a",
                "corpus task ran",
            ]
        )
        #expect(lines.compactMap { $0["task"]?.stringValue } == ["a", "a", "a", "a", "a", "b"])
        #expect(lines.compactMap { $0["level"]?.stringValue }.prefix(2) == ["warning", "debug"])
        #expect(lines.allSatisfy { $0["attempt"] == 1 })
        #expect(logs["dropped"] == ["a": 3])
        #expect(!json.standardOutput.contains("s3cret"))

        // Text: one line per log line, its line breaks spaces; the dropped lines said.
        let (text, _) = try fixture.cloacina(["executions", "logs", String(id.prefix(8)), "--task", "a"])
        #expect(text.exitStatus == 0, "\(text.standardError)")
        let shown = text.standardOutput.split(separator: "\n")
        #expect(shown.count == 6, "\(text.standardOutput)")
        #expect(
            shown.first?.hasSuffix(" a #1 WARNING using postgresql://u:***@db/app") == true,
            "\(text.standardOutput)"
        )
        #expect(shown.dropFirst().first?.hasSuffix(" a #1 DEBUG line 1 of a") == true, "\(text.standardOutput)")
        #expect(shown.last?.hasPrefix("task a: 3 lines dropped") == true, "\(text.standardOutput)")

        let (only, onlyJSON) = try fixture.cloacina([
            "executions", "logs", id, "--task", "b", "--attempt", "1", "--format", "json",
        ])
        #expect(only.exitStatus == 0, "\(only.standardError)")
        #expect(onlyJSON["lines"]?.arrayValue?.compactMap { $0["message"]?.stringValue } == ["corpus task ran"])
        #expect(onlyJSON["dropped"] == [:])
        let (none, _) = try fixture.cloacina(["executions", "logs", id, "--attempt", "2"])
        #expect(
            none.exitStatus == 0 && none.standardOutput.hasPrefix("no log lines\ntask a: 3 lines dropped"),
            "\(none.standardOutput)"
        )

        let (unknown, _) = try fixture.cloacina(["executions", "logs", "00000000-0000-0000-0000-000000000000"])
        #expect(unknown.exitStatus == 2, "\(unknown.standardError)")
        #expect(unknown.standardError.contains("no execution 00000000-0000-0000-0000-000000000000"))
        let (noTask, _) = try fixture.cloacina(["executions", "logs", id, "--task", "z"])
        #expect(noTask.exitStatus == 2 && noTask.standardError.contains("has no task z"), "\(noTask.standardError)")
        let (badAttempt, _) = try fixture.cloacina(["executions", "logs", id, "--attempt", "0"])
        #expect(badAttempt.exitStatus == 2, "\(badAttempt.standardError)")
        #expect(badAttempt.standardError.contains("--attempt"), "\(badAttempt.standardError)")
    }

    @Test("--follow prints the lines as another process runs the execution, and ends when it ends")
    func follow() throws {
        let fixture = try Fixture("cli-logs-follow")
        let (submitted, submittedJSON) = try fixture.cloacina(["run", "flow", "--no-wait", "--output", "json"])
        #expect(submitted.exitStatus == 0, "\(submitted.standardError)")
        let id = try #require(submittedJSON["execution_id"]?.stringValue)

        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: TestEnvironment.cloacinaExecutable)
        follower.arguments = ["executions", "logs", id, "--follow", "--output", "json", "--data-dir", fixture.data]
        let pipe = Pipe()
        follower.standardOutput = pipe
        follower.standardInput = FileHandle.nullDevice
        try follower.run()

        let (resumed, _) = try fixture.cloacina(["executions", "resume", "--output", "json"])
        #expect(resumed.exitStatus == 0, "\(resumed.standardError)")
        let followed = pipe.fileHandleForReading.readDataToEndOfFile()
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 0)
        let lines = String(decoding: followed, as: UTF8.self).split(separator: "\n")
        let messages = try lines.map { try JSONValue(parsing: Array($0.utf8))["message"]?.stringValue ?? "" }
        #expect(messages.count == 9, "\(messages)")
        #expect(messages.first == "using postgresql://u:***@db/app" && messages.last == "corpus task ran")
    }
}
