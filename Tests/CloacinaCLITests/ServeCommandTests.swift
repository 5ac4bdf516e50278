import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `cloacina serve` as a real process: hot reload by SIGHUP while executions run, damaged and removed packages,
/// signal bursts, draining on SIGTERM, and restarts that finish executions on the version they were pinned to.
@Suite("cloacina serve, end to end")
struct ServeCommandTests {
    /// A drop directory, a data directory, and two FIFOs that let tests hold the `hold` task of every execution:
    /// each attempt writes a byte to `started`, then reads one from `gate` before it goes on.
    final class Fixture: Sendable {
        let directory: TemporaryDirectory
        let started: FileHandle
        let gate: FileHandle
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }
        var package: String { "\(drop)/libflow.so" }

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(
                atPath: directory.file("workflows"),
                withIntermediateDirectories: true
            )
            for fifo in ["started", "gate"] where mkfifo(directory.file(fifo), 0o600) != 0 {
                throw DaemonProcess.DaemonError(message: "mkfifo failed: \(errno)")
            }
            // Read-write opens never block, and keep each FIFO open for the tasks' opens.
            started = FileHandle(fileDescriptor: open(directory.file("started"), O_RDWR), closeOnDealloc: true)
            gate = FileHandle(fileDescriptor: open(directory.file("gate"), O_RDWR), closeOnDealloc: true)
        }

        /// Builds the `flow` package (`hold` → `after`) that reports `behaviour` into `directory` (default: the
        /// drop directory), written beside and renamed into place. With `holding`, only that tenant's `hold` waits.
        @discardableResult
        func build(
            _ behaviour: String,
            version: String,
            into target: String? = nil,
            holding tenant: String? = nil
        ) throws -> String {
            var package = CorpusPackage()
            package.name = "flow"
            package.version = version
            package.behaviour = behaviour
            // Three attempts, so that a crash (which costs one) leaves some.
            package.workflows = [("flow", [.init("hold", retry: (3, 1, 1)), .init("after", after: ["hold"])])]
            package.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
            let onlyTenant = tenant.map { #" && strcmp(call->tenant, "\#($0)") == 0"# } ?? ""
            package.taskPrologue = """
                if (strcmp(call->task_id, "hold") == 0\(onlyTenant)) {
                    int s = open("\(directory.file("started"))", O_WRONLY);
                    if (s >= 0) { (void)!write(s, "s", 1); close(s); }
                    int g = open("\(directory.file("gate"))", O_RDONLY);
                    char c;
                    if (g >= 0) { (void)!read(g, &c, 1); close(g); }
                }
                """
            return try package.build(in: target ?? drop, fileName: "libflow.so")
        }

        /// Waits until `count` hold attempts have started.
        func awaitStarted(_ count: Int) {
            var seen = 0
            while seen < count { seen += started.readData(ofLength: count - seen).count }
        }

        /// Lets `count` hold attempts (running or future) go on.
        func release(_ count: Int) {
            gate.write(Data(repeating: UInt8(ascii: "g"), count: count))
        }

        func sha256(_ path: String) throws -> String {
            let result = try runCommand("/usr/bin/env", ["sha256sum", path])
            return String(result.standardOutput.prefix(64))
        }
    }

    static func submit(_ daemon: DaemonProcess, tenant: String = "acme") throws -> String {
        let (status, json) = try daemon.request(
            "POST",
            "/tenants/\(tenant)/workflows",
            body: #"{"workflow_name": "flow", "context": {"n": 1}}"#
        )
        #expect(status == 202, "\(json)")
        return try #require(json["execution_id"]?.stringValue)
    }

    /// Waits for the execution to end and returns its result.
    static func result(_ daemon: DaemonProcess, _ id: String, tenant: String = "acme") throws -> JSONValue {
        let (status, json) = try daemon.request("GET", "/tenants/\(tenant)/executions/\(id)?wait=true")
        #expect(status == 200, "\(json)")
        return json
    }

    @Test("replace, damage and remove a package under load: pinned versions, kept versions, nothing lost")
    func hotReload() throws {
        let fixture = try Fixture("serve-reload")
        let v1 = try fixture.sha256(fixture.build("v1", version: "1.0.0"))
        let daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])

        // Three executions hold on v1 while the package is rebuilt with new behaviour and SIGHUP arrives.
        let old = try (0..<3).map { _ in try Self.submit(daemon) }
        fixture.awaitStarted(3)
        let v2 = try fixture.sha256(fixture.build("v2", version: "2.0.0"))
        #expect(v1 != v2)
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("reloaded", times: 2), "\(daemon.logText)")
        let new = try (0..<2).map { _ in try Self.submit(daemon) }
        fixture.awaitStarted(2)
        fixture.release(5)
        for id in old {
            let result = try Self.result(daemon, id)
            #expect(result["status"] == "Completed")
            #expect(result["package"]?["sha256"] == .string(v1))
            #expect(result["package"]?["version"] == "1.0.0")
            #expect(result["final_context"]?["impl"] == "v1")
        }
        for id in new {
            let result = try Self.result(daemon, id)
            #expect(result["status"] == "Completed")
            #expect(result["package"]?["sha256"] == .string(v2))
            #expect(result["final_context"]?["impl"] == "v2")
        }

        // A damaged file: the error is reported and v2 keeps serving.
        let damaged = fixture.directory.file(".damaged")
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: damaged))
        #expect(rename(damaged, fixture.package) == 0)
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("reloaded", times: 3))
        let (_, workflows) = try daemon.request("GET", "/workflows")
        let file = try #require(workflows["packages"]?.arrayValue?.first)
        #expect(file["status"] == "failed")
        #expect(file["error"]?.stringValue?.isEmpty == false)
        #expect(file["package"]?["sha256"] == .string(v2))
        #expect(daemon.count("package failed to load") >= 1)
        let (_, metrics) = try daemon.requestText("GET", "/metrics")
        #expect(metrics.contains("cloacina_package_load_errors 1"), "\(metrics)")
        #expect(metrics.contains("cloacina_reloads_total"))
        fixture.release(1)
        let served = try Self.result(daemon, try Self.submit(daemon))
        #expect(served["status"] == "Completed")
        #expect(served["package"]?["sha256"] == .string(v2))
        fixture.awaitStarted(1)

        // A burst of SIGHUPs while executions run: no crash, nothing lost.
        try fixture.build("v3", version: "3.0.0")
        fixture.release(10)
        let burst = try (0..<10).map { _ in try Self.submit(daemon) }
        for _ in 0..<20 { daemon.signal(SIGHUP) }
        fixture.awaitStarted(10)
        for id in burst {
            #expect(try Self.result(daemon, id)["status"] == "Completed")
        }
        #expect(try daemon.request("GET", "/health").status == 200)

        // A removed file takes no new executions.
        #expect(unlink(fixture.package) == 0)
        let (reload, report) = try daemon.request("POST", "/admin/reload")
        #expect(reload == 200)
        #expect(report["removed"]?.arrayValue?.count == 1)
        let (status, body) = try daemon.request("POST", "/tenants/acme/workflows", body: #"{"workflow_name": "flow"}"#)
        #expect(status == 404, "\(body)")

        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("SIGTERM drains: intake stops, the running task finishes, exit 0; a restart resumes what was left")
    func drainAndResume() throws {
        let fixture = try Fixture("serve-drain")
        let v1 = try fixture.sha256(fixture.build("v1", version: "1.0.0"))
        var daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])
        let id = try Self.submit(daemon)
        fixture.awaitStarted(1)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForLog("draining"))
        let (status, _) = try daemon.request("POST", "/tenants/acme/workflows", body: #"{"workflow_name": "flow"}"#)
        #expect(status == 503)
        fixture.release(1)
        #expect(daemon.waitForExit() == 0)

        // The package changes while the host is down; the execution finishes on the version it started with.
        let v2 = try fixture.sha256(fixture.build("v2", version: "2.0.0"))
        #expect(v1 != v2)
        daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])
        let resumed = try Self.result(daemon, id)
        #expect(resumed["status"] == "Completed")
        #expect(resumed["package"]?["sha256"] == .string(v1))
        let tasks = resumed["tasks"]?.arrayValue ?? []
        #expect(tasks.map { $0["status"] } == ["Completed", "Completed"])
        fixture.release(1)
        // A load that takes long (a loaded machine) does not hold up serving: wait until the new version serves.
        func servesV2() throws -> Bool {
            let files = try daemon.request("GET", "/workflows").json["packages"]?.arrayValue ?? []
            return files.contains { $0["status"] == "serving" && $0["package"]?["version"] == "2.0.0" }
        }
        var looks = 0
        while try !servesV2(), looks < 60 {
            _ = daemon.waitForLog("reloaded", times: 2, seconds: 1)
            looks += 1
        }
        #expect(try servesV2(), "\(daemon.logText)")
        let fresh = try Self.result(daemon, try Self.submit(daemon))
        #expect(fresh["package"]?["sha256"] == .string(v2))
        fixture.awaitStarted(1)
        daemon.signal(SIGINT)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("a host killed mid-execution and restarted after the package changed finishes on the pinned version")
    func killedAndRestarted() throws {
        let fixture = try Fixture("serve-kill")
        let v1 = try fixture.sha256(fixture.build("v1", version: "1.0.0"))
        var daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])
        let id = try Self.submit(daemon)
        fixture.awaitStarted(1)
        daemon.signal(SIGKILL)
        #expect(daemon.waitForExit() == nil)

        try fixture.build("v2", version: "2.0.0")
        fixture.release(2)
        daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])
        let resumed = try Self.result(daemon, id)
        #expect(resumed["status"] == "Completed")
        #expect(resumed["package"]?["sha256"] == .string(v1))
        #expect(resumed["final_context"]?["impl"] == "v1")
        #expect(resumed["tasks"]?.arrayValue?.first?["attempts"] == 2)
        fixture.awaitStarted(1)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("--watch reloads when a package is installed, replaced or removed, without a signal")
    func watch() throws {
        let fixture = try Fixture("serve-watch")
        try fixture.build("v1", version: "1.0.0")
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--tenants", "acme", "--watch"]
        )
        let v2 = try fixture.sha256(fixture.build("v2", version: "2.0.0"))
        #expect(daemon.waitForLog("reloaded", times: 2), "\(daemon.logText)")
        fixture.release(1)
        let result = try Self.result(daemon, try Self.submit(daemon))
        #expect(result["package"]?["sha256"] == .string(v2))
        fixture.awaitStarted(1)
        #expect(unlink(fixture.package) == 0)
        #expect(daemon.waitForLog("reloaded", times: 3))
        #expect(
            try daemon.request("POST", "/tenants/acme/workflows", body: #"{"workflow_name": "flow"}"#).status == 404
        )
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("--all-tenants serves every tenant that exists, also ones created while it runs; others are 404")
    func allTenants() throws {
        let fixture = try Fixture("serve-all")
        try fixture.build("v1", version: "1.0.0")
        let tenant = { (name: String) in
            try runCommand(TestEnvironment.cloacinaExecutable, ["tenant", "create", name, "--data-dir", fixture.data])
        }
        #expect(try tenant("acme").exitStatus == 0)
        let daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--all-tenants"])
        fixture.release(2)
        #expect(
            try Self.result(daemon, try Self.submit(daemon, tenant: "acme"), tenant: "acme")["status"] == "Completed"
        )
        let unknown = #"{"workflow_name": "flow"}"#
        #expect(try daemon.request("POST", "/tenants/globex/workflows", body: unknown).status == 404)
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.data)/globex.db"))
        #expect(try tenant("globex").exitStatus == 0)
        #expect(
            try Self.result(daemon, try Self.submit(daemon, tenant: "globex"), tenant: "globex")["status"]
                == "Completed"
        )
        fixture.awaitStarted(2)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test(
        "`cloacina reload` signals only a live host holding the PID file: a stale file naming another process, or 1, is refused"
    )
    func reloadCommand() throws {
        let fixture = try Fixture("serve-sighup")
        try fixture.build("v1", version: "1.0.0")
        try FileManager.default.createDirectory(atPath: fixture.data, withIntermediateDirectories: true)
        let pidFile = "\(fixture.data)/cloacina.pid"
        let reload = { try runCommand(TestEnvironment.cloacinaExecutable, ["reload", "--data-dir", fixture.data]) }

        // A stale file that names an unrelated live process: refused, and the process lives on.
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["600"]
        try sleeper.run()
        defer {
            kill(sleeper.processIdentifier, SIGKILL)
            sleeper.waitUntilExit()
        }
        for pid in [sleeper.processIdentifier, 1] {
            try "\(pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
            let refused = try reload()
            #expect(refused.exitStatus == 2, "\(refused.standardOutput)")
            #expect(refused.standardError.contains("is stale"), "\(refused.standardError)")
        }
        #expect(sleeper.isRunning)
        #expect(kill(sleeper.processIdentifier, 0) == 0)
        try FileManager.default.removeItem(atPath: pidFile)

        let daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])
        let sent = try reload()
        #expect(sent.exitStatus == 0, "\(sent.standardError)")
        #expect(daemon.waitForLog("reloaded", times: 2))
        // The loading probes kept no copy of the package: the one copy is the host's package cache.
        let probeCopies = FileManager.default.enumerator(atPath: "\(fixture.data)/probe-cache")?
            .compactMap { $0 as? String }.filter { $0.hasSuffix(".so") }
        #expect(probeCopies ?? [] == [])
        // Another host on the same data directory (its SQLite files, its PID file) is refused while this one holds
        // it; so is a data directory it does not serve.
        let second = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["serve", "--workflows", fixture.drop, "--data-dir", fixture.data, "--no-http"]
        )
        #expect(second.exitStatus == 2)
        #expect(second.standardError.contains("another cloacina serve (pid \(daemon.pid) "), "\(second.standardError)")
        let elsewhere = fixture.directory.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let wrongDirectory = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["reload", "--pid-file", pidFile, "--data-dir", elsewhere]
        )
        #expect(wrongDirectory.exitStatus == 2)
        #expect(wrongDirectory.standardError.contains("serves the data directory"))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: pidFile))
        let stale = try reload()
        #expect(stale.exitStatus != 0)
    }
}

@Suite("cloacina serve on PostgreSQL")
struct ServePostgresTests {
    @Test(
        "tenants as schemas: executions over HTTP in each, invisible across them; unknown tenants are 404",
        .enabled(if: TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func schemas() throws {
        let url = try #require(TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL"))
        let fixture = try ServeCommandTests.Fixture("serve-pg")
        try fixture.build("v1", version: "1.0.0")
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let (a, b) = ("srv_a_\(suffix)", "srv_b_\(suffix)")
        defer {
            for schema in [a, b] {
                _ = try? runCommand(
                    TestEnvironment.cloacinaExecutable,
                    ["tenant", "remove", schema, "--database", url]
                )
            }
        }
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--database", url, "--tenants", "\(a),\(b)"]
        )
        fixture.release(2)
        let first = try ServeCommandTests.result(daemon, try ServeCommandTests.submit(daemon, tenant: a), tenant: a)
        #expect(first["status"] == "Completed")
        #expect(first["tenant"] == .string(a))
        let id = try #require(first["execution_id"]?.stringValue)
        #expect(try daemon.request("GET", "/tenants/\(b)/executions/\(id)").status == 404)
        let second = try ServeCommandTests.result(daemon, try ServeCommandTests.submit(daemon, tenant: b), tenant: b)
        #expect(second["status"] == "Completed")
        fixture.awaitStarted(2)
        let (_, listing) = try daemon.request("GET", "/tenants/\(a)/executions")
        #expect(listing["total"] == 1)
        #expect(try daemon.request("GET", "/tenants/nobody_\(suffix)/executions").status == 404)
        #expect(try daemon.request("GET", "/tenants/Bad-Name/executions").status == 400)
        let tenants = try runCommand(TestEnvironment.cloacinaExecutable, ["tenant", "list", "--database", url])
        #expect(tenants.standardOutput.contains(a) && tenants.standardOutput.contains(b))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
