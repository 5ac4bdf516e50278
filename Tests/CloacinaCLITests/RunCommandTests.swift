import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

@Suite("cloacina run and executions, end to end through real packages")
struct RunCommandTests {
    /// A drop directory with the example packages (debug builds), and a data directory beside it.
    struct Host {
        let directory: TemporaryDirectory
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
            for product in ["TextAnalytics", "Orders"] {
                try FileManager.default.copyItem(
                    atPath: TestEnvironment.exampleLibrary(product),
                    toPath: "\(drop)/lib\(product).so"
                )
            }
            try compileC(
                ["\(TestEnvironment.repositoryRoot)/workflows/c-fingerprint/c_fingerprint.c"],
                output: "\(drop)/libCFingerprint.so",
                flags: ["-shared", "-fPIC"]
            )
        }

        func cloacina(_ arguments: [String], _ environment: [String: String] = [:]) throws -> CommandResult {
            var all = arguments
            if arguments.first == "run" { all += ["--workflows", drop] }
            if arguments.first == "run" || arguments.first == "executions" { all += ["--data-dir", data] }
            return try runCommand(TestEnvironment.cloacinaExecutable, all, environment: environment)
        }

        func run(
            _ workflow: String,
            context: String = "{}",
            _ extra: [String] = []
        ) throws -> (CommandResult, JSONValue) {
            let result = try cloacina(["run", workflow, "--context", context, "--output", "json"] + extra)
            let json = (try? JSONValue(parsing: result.standardOutput)) ?? .null
            return (result, json)
        }
    }

    @Test("each example workflow runs through its .so and reports the documented JSON")
    func examples() throws {
        let host = try Host("cli-run")
        let (words, wordsJSON) = try host.run("word_stats", context: #"{"text": "To be or not to be"}"#)
        #expect(words.exitStatus == 0, "\(words.standardError)")
        #expect(wordsJSON["status"] == "Completed")
        #expect(wordsJSON["tenant"] == "default")
        #expect(wordsJSON["workflow"] == "word_stats")
        #expect(wordsJSON["package"]?["name"] == "text-analytics")
        #expect(wordsJSON["package"]?["sha256"]?.stringValue?.count == 64)
        #expect(
            wordsJSON["final_context"]?["summary"] == "6 words (4 distinct); longest \"not\"; most common letters otben"
        )
        #expect(wordsJSON["tasks"]?.arrayValue?.map { $0["status"] } == Array(repeating: "Completed", count: 5))
        #expect(wordsJSON["duration_ms"]?.intValue != nil)
        #expect(wordsJSON["execution_id"]?.stringValue?.count == 36)

        let (c, cJSON) = try host.run("fingerprint", context: "{}")
        #expect(c.exitStatus == 0)
        #expect(cJSON["final_context"] == ["input_bytes": 2, "fnv1a": "3069e9ece711d00d"])

        // Retry, then success; the gift task runs only when "gift" holds.
        let (order, orderJSON) = try host.run("process_order", context: #"{"gift": true, "items": 2}"#)
        #expect(order.exitStatus == 0)
        let tasks = Dictionary(
            uniqueKeysWithValues: (orderJSON["tasks"]?.arrayValue ?? []).map { ($0["id"]!.stringValue!, $0) }
        )
        #expect(tasks["charge_card"]?["attempts"] == 2)
        #expect(tasks["charge_card"]?["status"] == "Completed")
        #expect(tasks["release_stock"]?["status"] == "Skipped")
        #expect(tasks["gift_wrap"]?["status"] == "Completed")
        #expect(orderJSON["final_context"]?["charge_attempts"] == 2)
        #expect(orderJSON["final_context"]?["reserved"] == 2)

        // A failure: ship is skipped, the cleanup runs by trigger rule, the execution fails, exit status 1.
        let (declined, declinedJSON) = try host.run("process_order", context: #"{"card": "declined"}"#)
        #expect(declined.exitStatus == 1)
        #expect(declinedJSON["status"] == "Failed")
        #expect(declinedJSON["error"] == "task charge_card failed: card declined")
        let failed = Dictionary(
            uniqueKeysWithValues: (declinedJSON["tasks"]?.arrayValue ?? []).map { ($0["id"]!.stringValue!, $0) }
        )
        #expect(failed["charge_card"]?["status"] == "Failed")
        #expect(failed["charge_card"]?["error"] == "card declined")
        #expect(failed["ship"]?["status"] == "Skipped")
        #expect(failed["release_stock"]?["status"] == "Completed")
        #expect(failed["gift_wrap"]?["status"] == "Skipped")
        #expect(declinedJSON["final_context"]?["released"] == true)
        #expect(declinedJSON["final_context"]?["reserved"] == 0)

        // The text form: a table of tasks.
        let text = try host.cloacina(["run", "process_order"])
        #expect(text.exitStatus == 0)
        #expect(text.standardOutput.contains("charge_card    Completed  2"))
    }

    @Test("tenants are separate files; executions list, show and the context file work per tenant")
    func tenantsAndExecutions() throws {
        let host = try Host("cli-tenants")
        let contextFile = host.directory.file("context.json")
        try #"{"text": "alpha beta"}"#.write(toFile: contextFile, atomically: true, encoding: .utf8)
        let acme = try host.cloacina([
            "run", "word_stats", "--tenant", "acme", "--create-tenant", "--context-file", contextFile, "--output",
            "json",
        ])
        #expect(acme.exitStatus == 0, "\(acme.standardError)")
        let id = try #require(try JSONValue(parsing: acme.standardOutput)["execution_id"]?.stringValue)
        _ = try host.cloacina(["run", "fingerprint", "--tenant", "globex", "--create-tenant"])
        #expect(FileManager.default.fileExists(atPath: "\(host.data)/acme.db"))
        #expect(FileManager.default.fileExists(atPath: "\(host.data)/globex.db"))

        let list = try host.cloacina(["executions", "list", "--tenant", "acme", "--output", "json"])
        #expect(list.exitStatus == 0)
        let listed = try JSONValue(parsing: list.standardOutput).arrayValue ?? []
        #expect(listed.map { $0["execution_id"] } == [.string(id)])
        #expect(listed.first?["tenant"] == "acme")

        let show = try host.cloacina(["executions", "show", id, "--tenant", "acme", "--output", "json"])
        #expect(show.exitStatus == 0)
        let shown = try JSONValue(parsing: show.standardOutput)
        #expect(shown["final_context"]?["words"] == ["alpha", "beta"])
        #expect(shown["tasks"]?.arrayValue?.count == 5)

        // Its history: created first, completed last, a start and an end per task; by a prefix of its id.
        let events = try host.cloacina([
            "executions", "events", String(id.prefix(8)), "--tenant", "acme", "--output", "json",
        ])
        #expect(events.exitStatus == 0, "\(events.standardError)")
        let kinds = try JSONValue(parsing: events.standardOutput)["events"]?.arrayValue?.compactMap {
            $0["kind"]?.stringValue
        }
        #expect(kinds?.first == "execution_created" && kinds?.last == "execution_completed", "\(kinds ?? [])")
        #expect(kinds?.filter { $0 == "task_completed" }.count == 5, "\(kinds ?? [])")
        let table = try host.cloacina(["executions", "events", id, "--tenant", "acme"])
        #expect(table.standardOutput.hasPrefix("AT"), "\(table.standardOutput)")
        #expect(table.standardOutput.contains("task_completed"))

        // The other tenant does not see it; an unknown tenant is an error and gets no file; the default one, not
        // used yet, has nothing.
        let elsewhere = try host.cloacina(["executions", "show", id, "--tenant", "globex"])
        #expect(elsewhere.exitStatus == 2)
        let unknown = try host.cloacina(["executions", "list", "--tenant", "nobody", "--output", "json"])
        #expect(unknown.exitStatus == 2)
        #expect(!FileManager.default.fileExists(atPath: "\(host.data)/nobody.db"))
        let empty = try host.cloacina(["executions", "list", "--output", "json"])
        #expect(empty.exitStatus == 0)
        #expect(empty.standardOutput == "[]\n")
        #expect(!FileManager.default.fileExists(atPath: "\(host.data)/default.db"))

        let filtered = try host.cloacina([
            "executions", "list", "--tenant", "acme", "--status", "failed", "--output", "json",
        ])
        #expect(filtered.standardOutput == "[]\n")
    }

    @Test(
        "bad input exits 2 with a clear message and writes nothing",
        arguments: [
            (["--context", "[1, 2]"], "must be a JSON object"),
            (["--context", "{\"a\": "], "is not valid JSON"),
            (["--tenant", "../etc"], "invalid tenant id"),
            (["--tenant", String(repeating: "t", count: 65)], "invalid tenant id"),
            (["--context-file", "/nonexistent/context.json"], "cannot read the context file"),
            (["--context", "{}", "--context-file", "x.json"], "not both"),
            (["--max-concurrent-tasks", "0"], "must be a positive integer"),
        ]
    )
    func badInput(arguments: [String], message: String) throws {
        let host = try Host("cli-bad")
        let result = try host.cloacina(["run", "word_stats"] + arguments)
        #expect(result.exitStatus == 2)
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: host.data))
    }

    @Test("an unknown workflow, a missing drop directory and an unwritable data directory exit 2, nothing written")
    func badEnvironment() throws {
        let host = try Host("cli-bad-env")
        let unknown = try host.cloacina(["run", "no_such_workflow"])
        #expect(unknown.exitStatus == 2)
        #expect(unknown.standardError.contains("provides workflow \"no_such_workflow\""))
        #expect(unknown.standardError.contains("word_stats"))
        #expect(!FileManager.default.fileExists(atPath: host.data))

        let noDrop = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["run", "word_stats", "--workflows", host.directory.file("missing"), "--data-dir", host.data]
        )
        #expect(noDrop.exitStatus == 2)

        let readOnly = host.directory.file("readonly")
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
        chmod(readOnly, 0o500)
        defer { chmod(readOnly, 0o700) }
        // Root ignores permissions; a path under a regular file is unwritable for everyone.
        let blocker = host.directory.file("file")
        try Data().write(to: URL(fileURLWithPath: blocker))
        let unwritable = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["run", "word_stats", "--workflows", host.drop, "--data-dir", "\(blocker)/data"]
        )
        #expect(unwritable.exitStatus == 2)
        #expect(unwritable.standardError.contains("cannot create data directory"))
    }

    @Test(
        "a host killed with SIGKILL mid-execution: resumed, every task done, the interrupted one again, attempts recorded"
    )
    func crashRecovery() throws {
        let host = try Host("cli-crash")
        let fifo = host.directory.file("started.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // b (two attempts allowed) signals through the FIFO on its first attempt, then works until cancelled; later
        // attempts finish at once.
        let source = """
            #include <fcntl.h>
            #include <string.h>
            #include <unistd.h>
            #include "cloacina.h"
            static const cloacina_host_api *host;
            static const cloacina_package_descriptor info = {
                sizeof info, CLOACINA_ABI_MAJOR, CLOACINA_ABI_MINOR, 0, "crashy", "1.0.0", NULL };
            __attribute__((visibility("default"))) const cloacina_package_descriptor *cloacina_package_info(void) { return &info; }
            static int32_t quick(void *u, const cloacina_task_call *call, cloacina_output *out) { (void)u; (void)call; (void)out; return 0; }
            static int32_t slow(void *u, const cloacina_task_call *call, cloacina_output *out) {
                (void)u; (void)out;
                if (call->attempt == 1) {
                    int fd = open("\(fifo)", O_WRONLY);
                    if (fd >= 0) { write(fd, "started\\n", 8); close(fd); }
                    while (!host->is_cancelled(call)) usleep(1000);
                    return CLOACINA_TASK_FAILED;
                }
                return CLOACINA_TASK_OK;
            }
            __attribute__((visibility("default"))) int32_t cloacina_package_init(const cloacina_host_api *api, cloacina_registrar *r) {
                host = api;
                cloacina_workflow_def w = { sizeof w, "crashy", NULL };
                api->register_workflow(r, &w);
                static const char *const after_a[] = { "a" };
                static const char *const after_b[] = { "b" };
                cloacina_task_def t = {0};
                t.struct_size = sizeof t; t.workflow = "crashy";
                t.id = "a"; t.function = quick; api->register_task(r, &t);
                cloacina_retry_policy twice = { sizeof twice, 2, CLOACINA_BACKOFF_FIXED, CLOACINA_RETRY_ALL_ERRORS, 10, 10, 1.0, 0 };
                t.id = "b"; t.dependencies = after_a; t.dependency_count = 1; t.function = slow; t.retry = &twice;
                api->register_task(r, &t);
                t.id = "c"; t.dependencies = after_b; t.function = quick; t.retry = NULL; api->register_task(r, &t);
                return 0;
            }
            """
        let sourcePath = host.directory.file("crashy.c")
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        try compileC([sourcePath], output: "\(host.drop)/libcrashy.so", flags: ["-shared", "-fPIC"])

        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.cloacinaExecutable)
        process.arguments = ["run", "crashy", "--workflows", host.drop, "--data-dir", host.data, "--output", "json"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Blocks until task b's first attempt has started.
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: fifo))
        #expect(reader.readData(ofLength: 8) == Data("started\n".utf8))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        let listed = try host.cloacina(["executions", "list", "--output", "json"])
        let unfinished = try JSONValue(parsing: listed.standardOutput).arrayValue ?? []
        #expect(unfinished.count == 1)
        #expect(unfinished.first?["status"] == "Running")

        let resumed = try host.cloacina(["executions", "resume", "--output", "json"])
        #expect(resumed.exitStatus == 0, "\(resumed.standardOutput)\(resumed.standardError)")
        let results = try JSONValue(parsing: resumed.standardOutput).arrayValue ?? []
        #expect(results.count == 1)
        let result = try #require(results.first)
        #expect(result["status"] == "Completed")
        #expect(result["execution_id"] == unfinished.first?["execution_id"])
        let attempts = (result["tasks"]?.arrayValue ?? []).map { $0["attempts"]?.intValue ?? 0 }
        #expect(attempts == [1, 2, 1])
    }

    @Test("run --no-wait records the execution; executions resume runs it")
    func noWait() throws {
        let host = try Host("cli-nowait")
        let submitted = try host.cloacina(["run", "fingerprint", "--no-wait", "--output", "json"])
        #expect(submitted.exitStatus == 0)
        let id = try #require(try JSONValue(parsing: submitted.standardOutput)["execution_id"]?.stringValue)
        let pending = try host.cloacina(["executions", "show", id, "--output", "json"])
        #expect(try JSONValue(parsing: pending.standardOutput)["status"] == "Pending")
        let resumed = try host.cloacina(["executions", "resume", "--output", "json"])
        #expect(resumed.exitStatus == 0)
        #expect(try JSONValue(parsing: resumed.standardOutput)[0]?["status"] == "Completed")
        // A finished execution stays as it was, and the command says so.
        let cancelled = try host.cloacina(["executions", "cancel", id, "--output", "json"])
        #expect(cancelled.exitStatus == 1)
        #expect(cancelled.standardError.contains("already ended (Completed)"))
        let after = try host.cloacina(["executions", "show", id, "--output", "json"])
        #expect(try JSONValue(parsing: after.standardOutput)["status"] == "Completed")
    }
}
