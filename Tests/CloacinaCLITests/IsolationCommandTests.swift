import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `cloacina run` and `serve` with tasks in worker processes (the default): packages whose tasks crash, exit, spin
/// or print garbage cost an attempt, never the host.
@Suite("Worker processes, end to end")
struct IsolationCommandTests {
    /// A drop directory holding the misbehaving package, and a data directory.
    struct Host {
        let directory: TemporaryDirectory
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }
        var context: String { MisbehavingPackage.context(directory) }

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
            try MisbehavingPackage.package.build(in: drop, fileName: "libmisbehaving.so")
        }

        func run(
            _ task: String,
            _ extra: [String] = [],
            environment: [String: String] = [:]
        ) throws -> (
            CommandResult, JSONValue
        ) {
            let result = try runCommand(
                TestEnvironment.cloacinaExecutable,
                ["run", "w_\(task)", "--context", context, "--output", "json", "--workflows", drop, "--data-dir", data]
                    + extra,
                environment: environment
            )
            return (result, (try? JSONValue(parsing: result.standardOutput)) ?? .null)
        }

        /// `run` on a thread of its own, for a test that meanwhile reads what the task announces.
        func runInBackground(_ task: String, _ extra: [String] = []) async throws -> (CommandResult, JSONValue) {
            try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try run(task, extra) })
                }
            }
        }
    }

    @Test(
        "run: each way a task can misbehave fails its attempt with the cause, and the host reports it",
        arguments: [
            ("segv", "worker killed by SIGSEGV (Segmentation fault)"),
            ("abort", "worker killed by SIGABRT (Aborted)"),
            ("exit3", "worker exited with status 3"),
            ("sigkill", "worker killed by SIGKILL (Killed)"),
            ("forge", "worker broke the protocol (result frame ends inside a field); it was killed"),
        ]
    )
    func runFailures(task: String, cause: String) throws {
        let host = try Host("isolation-run-\(task)")
        let (result, json) = try host.run(task)
        #expect(result.exitStatus == 1, "\(result.standardError)")
        #expect(json["status"] == "Failed")
        #expect(json["tasks"]?[0]?["error"] == .string(cause))
        #expect(json["tasks"]?[0]?["attempts"] == 1)
        #expect(result.standardError.contains("worker crashed"))
        #expect(MisbehavingPackage.calls(in: host.directory) == ["\(task) 1"])
    }

    @Test("run: garbage on stdout and stderr is logged with tenant and task; a crash then a retry completes")
    func runSuccesses() throws {
        let host = try Host("isolation-run-ok")
        let (garbage, garbageJSON) = try host.run("garbage")
        #expect(garbage.exitStatus == 0, "\(garbage.standardError)")
        #expect(garbageJSON["status"] == "Completed")
        let line = try #require(garbage.standardError.split(separator: "\n").first { $0.contains("garbage on stderr") })
        #expect(line.contains("tenant=default") && line.contains("task=garbage") && line.contains("stream=stderr"))
        #expect(garbage.standardError.contains("garbage on stdout"))

        let (flaky, flakyJSON) = try host.run("flaky")
        #expect(flaky.exitStatus == 0, "\(flaky.standardError)")
        #expect(flakyJSON["tasks"]?[0]?["attempts"] == 2)
        #expect(
            MisbehavingPackage.calls(in: host.directory).filter { $0.hasPrefix("flaky") } == ["flaky 1", "flaky 2"]
        )
    }

    @Test("run: a task that ignores its timeout ends run at the timeout, and its worker with it")
    func runTimeout() async throws {
        let host = try Host("isolation-run-spin")
        try MisbehavingPackage.makeFIFO(in: host.directory)
        async let run = host.runInBackground("spin", ["--task-timeout", "1", "--kill-grace", "0.2"])
        let pid = try #require(await MisbehavingPackage.announcedPID(in: host.directory))
        let (result, json) = try await run
        #expect(result.exitStatus == 1)
        #expect(json["tasks"]?[0]?["error"] == "timed out after 1 s")
        #expect(MisbehavingPackage.ended(pid))
    }

    @Test("run --isolation in-process, or a package run in process by name: the same segfault takes the host down")
    func inProcessCrash() throws {
        let host = try Host("isolation-in-process")
        let (result, _) = try host.run("segv", ["--isolation", "in-process"])
        #expect(result.signal == SIGSEGV)
        // Per package: a package named trusted runs in the host under process isolation, the others do not.
        let (trusted, _) = try host.run("segv", ["--in-process-package", "misbehaving"])
        #expect(trusted.signal == SIGSEGV)
        let (viaEnvironment, _) = try host.run("segv", environment: ["CLOACINA_IN_PROCESS_PACKAGES": "misbehaving"])
        #expect(viaEnvironment.signal == SIGSEGV)
        let (other, _) = try host.run("segv", ["--in-process-package", "another"])
        #expect(other.exitStatus == 1)
        let (badName, _) = try host.run("ok", ["--in-process-package", "no/slash"])
        #expect(badName.exitStatus == 2)
        #expect(badName.standardError.contains("--in-process-package: invalid package name \"no/slash\""))
        let (bad, _) = try host.run("ok", environment: ["CLOACINA_ISOLATION": "sandbox"])
        #expect(bad.exitStatus == 2)
        #expect(bad.standardError.contains("CLOACINA_ISOLATION must be process or in-process, got \"sandbox\""))
    }

    @Test("serve: a crashing task fails its execution, the host serves on, and the crash is counted in the metrics")
    func serve() throws {
        let host = try Host("isolation-serve")
        let daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: ["--tenants", "acme"])
        let submit = { (task: String) throws -> JSONValue in
            let (status, json) = try daemon.request(
                "POST",
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "w_\#(task)", "context": \#(host.context)}"#
            )
            #expect(status == 200, "\(json)")
            return json
        }
        let crashed = try submit("segv")
        #expect(crashed["status"] == "Failed")
        #expect(crashed["tasks"]?[0]?["error"] == "worker killed by SIGSEGV (Segmentation fault)")
        #expect(try submit("ok")["status"] == "Completed")
        #expect(try submit("flaky")["status"] == "Completed")

        let (_, metrics) = try daemon.requestText("GET", "/metrics")
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("cloacina_worker_crashes_total{") }
        #expect(line?.contains(#"signal="SIGSEGV""#) == true, "\(metrics)")
        #expect(line?.contains(#"package="misbehaving""#) == true)
        #expect(line?.hasSuffix(" 2") == true)

        let id = try #require(crashed["execution_id"]?.stringValue)
        let shown = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["executions", "show", id, "--tenant", "acme", "--data-dir", host.data, "--output", "json"]
        )
        #expect(shown.standardOutput.contains("worker killed by SIGSEGV"))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("serve: a host killed mid-attempt, then a crash on the last attempt: Failed after the restart, no crash loop")
    func recoveryNeverCrashLoops() async throws {
        let host = try Host("isolation-recovery")
        try MisbehavingPackage.makeFIFO(in: host.directory)
        var daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: ["--tenants", "acme"])
        let (status, submitted) = try daemon.request(
            "POST",
            "/tenants/acme/workflows",
            body: #"{"workflow_name": "w_doomed", "context": \#(host.context)}"#
        )
        #expect(status == 202)
        let id = try #require(submitted["execution_id"]?.stringValue)
        let worker = try #require(await MisbehavingPackage.announcedPID(in: host.directory))
        daemon.signal(SIGKILL)
        #expect(daemon.waitForExit() == nil)
        // The worker goes with its host.
        #expect(MisbehavingPackage.ended(worker))

        // Attempt 1 counts; attempt 2, the last, crashes its worker: the task is Failed and the host serves on.
        daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: ["--tenants", "acme"])
        let (_, result) = try daemon.request("GET", "/tenants/acme/executions/\(id)?wait=true")
        #expect(result["status"] == "Failed")
        #expect(result["tasks"]?[0]?["attempts"] == 2)
        #expect(result["tasks"]?[0]?["error"] == "worker killed by SIGSEGV (Segmentation fault)")
        #expect(MisbehavingPackage.calls(in: host.directory) == ["doomed 1", "doomed 2"])
        #expect(try daemon.request("GET", "/health").status == 200)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
