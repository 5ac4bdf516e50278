import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `run` and `executions` as a new user meets them: timeouts that end the command, tenants that must exist, task
/// logs, input contexts, id prefixes, cancel messages and screen-sized text.
@Suite("cloacina run and executions: timeouts, tenants, logs and messages")
struct RunFrictionTests {
    /// A drop directory holding one C package, `corpus_flow` (one task, `only`), whose task runs `prologue` first.
    static func host(_ label: String, prologue: String = "", behaviour: String = "v1") throws -> RunCommandTests.Host {
        let host = try RunCommandTests.Host(label)
        var package = CorpusPackage()
        package.behaviour = behaviour
        package.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
        package.taskPrologue = prologue
        try package.build(in: host.drop, fileName: "libcorpus.so")
        return host
    }

    @Test("a timed-out task ends `run` at the timeout: exit 1 while the task still sleeps, its late result discarded")
    func timeoutEndsRun() throws {
        let directory = try TemporaryDirectory("cli-timeout-marker")
        let marker = directory.file("marker")
        let host = try Self.host(
            "cli-timeout",
            prologue: """
                FILE *m = fopen("\(marker)", "w"); if (m) { fputs("sleeping", m); fclose(m); }
                sleep(30);
                m = fopen("\(marker)", "w"); if (m) { fputs("woke", m); fclose(m); }
                """
        )
        let (result, json) = try host.run("corpus_flow", ["--task-timeout", "1"])
        // The command has exited; had it waited for the task, the marker would say so.
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "sleeping")
        #expect(result.exitStatus == 1, "\(result.standardError)")
        #expect(json["status"] == "Failed")
        #expect(json["tasks"]?[0]?["error"] == "timed out after 1 s")
        #expect(!result.standardError.contains("will run again"), "\(result.standardError)")
    }

    @Test("an output over --max-output-bytes (or $CLOACINA_MAX_OUTPUT_BYTES) fails the attempt, naming the limit")
    func outputCap() throws {
        let host = try Self.host("cli-output-cap")
        let (capped, json) = try host.run("corpus_flow", ["--max-output-bytes", "10"])
        #expect(capped.exitStatus == 1)
        let error = json["tasks"]?[0]?["error"]?.stringValue ?? ""
        #expect(error.contains("over the 10-byte limit (--max-output-bytes)"), "\(json)")
        let fromEnvironment = try host.cloacina(["run", "corpus_flow"], ["CLOACINA_MAX_OUTPUT_BYTES": "10"])
        #expect(fromEnvironment.exitStatus == 1)
        #expect(try host.run("corpus_flow", []).0.exitStatus == 0)
    }

    @Test("only the default tenant is created by using it; a typo is `unknown tenant`, exit 2, nothing created")
    func unknownTenants() throws {
        let host = try Self.host("cli-unknown-tenant")
        let typo = try host.cloacina(["run", "corpus_flow", "--tenant", "acmee"])
        #expect(typo.exitStatus == 2)
        #expect(typo.standardError.contains(#"unknown tenant "acmee""#), "\(typo.standardError)")
        #expect(!FileManager.default.fileExists(atPath: "\(host.data)/acmee.db"))
        for command in [["executions", "list"], ["executions", "resume"], ["executions", "show", "abc"]] {
            let result = try host.cloacina(command + ["--tenant", "acmee"])
            #expect(result.exitStatus == 2, "\(command)")
            #expect(result.standardError.contains(#"unknown tenant "acmee""#), "\(command): \(result.standardError)")
        }
        let serve = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["serve", "--workflows", host.drop, "--data-dir", host.data, "--no-http", "--tenants", "default,acmee"]
        )
        #expect(serve.exitStatus == 2)
        #expect(serve.standardError.contains(#"unknown tenant "acmee""#), "\(serve.standardError)")
        #expect(!FileManager.default.fileExists(atPath: "\(host.data)/acmee.db"))

        #expect(try host.cloacina(["run", "corpus_flow"]).exitStatus == 0)
        #expect(try host.cloacina(["run", "corpus_flow", "--tenant", "acme", "--create-tenant"]).exitStatus == 0)
        #expect(try host.cloacina(["run", "corpus_flow", "--tenant", "acme"]).exitStatus == 0)
        #expect(try host.cloacina(["executions", "list", "--tenant", "acme"]).exitStatus == 0)
    }

    @Test("task log lines show at the default level; --log-level and CLOACINA_LOG_LEVEL set the level")
    func taskLogs() throws {
        let host = try Self.host("cli-logs")
        let plain = try host.cloacina(["run", "corpus_flow"])
        #expect(plain.exitStatus == 0)
        #expect(plain.standardError.contains("corpus task ran"), "\(plain.standardError)")
        let quiet = try host.cloacina(["run", "corpus_flow", "--log-level", "error"])
        #expect(quiet.exitStatus == 0)
        #expect(!quiet.standardError.contains("corpus task ran"))
        let environment = try host.cloacina(["run", "corpus_flow"], ["CLOACINA_LOG_LEVEL": "error"])
        #expect(!environment.standardError.contains("corpus task ran"))
        let bad = try host.cloacina(["run", "corpus_flow", "--log-level", "loud"])
        #expect(bad.exitStatus == 2)
        #expect(bad.standardError.contains("unknown log level"))
        let help = try host.cloacina(["run", "--help"])
        #expect(help.standardOutput.contains("CLOACINA_LOG_LEVEL") && help.standardOutput.contains("--log-level"))
        #expect(help.standardOutput.contains("--database-file") && help.standardOutput.contains("PGPASSWORD"))
    }

    @Test("executions show: the input context, ids by unique prefix; ambiguous and unknown prefixes are errors")
    func showAndPrefixes() throws {
        let host = try Self.host("cli-show")
        let long = String(repeating: "x", count: 5000)
        let (first, json) = try host.run("corpus_flow", context: #"{"note": "hello", "long": "\#(long)"}"#)
        #expect(first.exitStatus == 0)
        let id = try #require(json["execution_id"]?.stringValue)
        #expect(json["input_context"]?["long"] == .string(long))

        // Text output cuts the long value; --output json keeps it whole.
        let text = try host.cloacina(["executions", "show", String(id.prefix(8))])
        #expect(text.exitStatus == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("input context"))
        #expect(text.standardOutput.contains(#""note": "hello""#))
        #expect(!text.standardOutput.contains(long))
        #expect(text.standardOutput.contains("5002 characters"))
        let whole = try host.cloacina(["executions", "show", String(id.prefix(8)), "--output", "json"])
        #expect(try JSONValue(parsing: whole.standardOutput)["input_context"]?["long"] == .string(long))
        // The task's output holds the long value (its own context replaces the input's keys: see "Context").
        let wide = String(repeating: "y", count: 300)
        let chatty = try Self.host("cli-show-long", behaviour: wide)
        let run = try chatty.cloacina(["run", "corpus_flow"])
        #expect(
            !run.standardOutput.contains(wide) && run.standardOutput.contains("characters"),
            "\(run.standardOutput)"
        )

        // 17 ids cannot all start with different hex digits.
        for _ in 0..<16 { #expect(try host.cloacina(["run", "corpus_flow", "--no-wait"]).exitStatus == 0) }
        let listed = try host.cloacina(["executions", "list", "--output", "json"])
        let ids = (try JSONValue(parsing: listed.standardOutput).arrayValue ?? []).compactMap {
            $0["execution_id"]?.stringValue
        }
        let counts = Dictionary(grouping: ids, by: { $0.prefix(1) })
        let (shared, group) = try #require(counts.first { $0.value.count > 1 })
        let ambiguous = try host.cloacina(["executions", "show", String(shared)])
        #expect(ambiguous.exitStatus == 2)
        #expect(ambiguous.standardError.contains("ambiguous: \(group.count) executions"), "\(ambiguous.standardError)")
        let none = try host.cloacina(["executions", "show", "zz"])
        #expect(none.exitStatus == 2)
        #expect(none.standardError.contains("no execution zz"))
    }

    @Test("executions cancel: a finished execution says so (exit 1); one another process runs is `cancel pending`")
    func cancelMessages() throws {
        let directory = try TemporaryDirectory("cli-cancel-fifo")
        let started = directory.file("started")
        let hold = directory.file("hold")
        #expect(mkfifo(started, 0o600) == 0)
        // While the file `hold` exists, the task tells the FIFO it started and then sleeps.
        let host = try Self.host(
            "cli-cancel",
            prologue: """
                if (access("\(hold)", F_OK) == 0) {
                    int s = open("\(started)", O_WRONLY); if (s >= 0) { (void)!write(s, "s", 1); close(s); }
                    sleep(600);
                }
                """
        )
        let (done, json) = try host.run("corpus_flow")
        #expect(done.exitStatus == 0)
        let finished = try #require(json["execution_id"]?.stringValue)
        let again = try host.cloacina(["executions", "cancel", finished])
        #expect(again.exitStatus == 1)
        #expect(again.standardError.contains("already ended (Completed)"), "\(again.standardError)")

        let runner = Process()
        runner.executableURL = URL(fileURLWithPath: TestEnvironment.cloacinaExecutable)
        try Data().write(to: URL(fileURLWithPath: hold))
        runner.arguments = ["run", "corpus_flow", "--workflows", host.drop, "--data-dir", host.data]
        runner.standardOutput = FileHandle.nullDevice
        runner.standardError = FileHandle.nullDevice
        try runner.run()
        defer {
            kill(runner.processIdentifier, SIGKILL)
            runner.waitUntilExit()
        }
        let reader = FileHandle(forReadingAtPath: started)
        _ = reader?.readData(ofLength: 1)
        let running = try host.cloacina(["executions", "list", "--status", "Running", "--output", "json"])
        let id = try #require(try JSONValue(parsing: running.standardOutput)[0]?["execution_id"]?.stringValue)
        let pending = try host.cloacina(["executions", "cancel", id])
        #expect(pending.exitStatus == 0, "\(pending.standardError)")
        #expect(pending.standardOutput.contains("cancel pending"), "\(pending.standardOutput)")
    }
}
