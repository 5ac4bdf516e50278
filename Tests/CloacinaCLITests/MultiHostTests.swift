import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Several `cloacina serve` processes on one PostgreSQL, and the single-host rule of SQLite tenants.
@Suite("Several hosts", .serialized)
struct MultiHostTests {
    @Test(
        "PostgreSQL: a live host takes over the executions of a host killed under load; no attempt runs twice",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func takeover() throws {
        let url = try #require(Self.postgresURL)
        let schema = Self.schema("hosts")
        defer { Self.removeTenant(schema, url) }
        let fixture = try RecoveryCountingTests.Fixture("takeover")
        // A short lease, so the test waits seconds; each host has its own data directory (PID file, cache).
        func host(_ name: String) throws -> DaemonProcess {
            try DaemonProcess(
                drop: fixture.drop,
                data: fixture.directory.file(name),
                arguments: ["--database", url, "--tenants", schema, "--lease", "2", "--drain-timeout", "0"]
            )
        }
        let a = try host("a")
        let b = try host("b")
        var ids: [String] = []
        for _ in 0..<8 { ids.append(try RecoveryCountingTests.submit(a, schema, "chain")) }
        fixture.awaitInvocations(4)
        a.signal(SIGKILL)
        #expect(a.waitForExit() == nil)

        var recorded: [String: Int] = [:]
        for id in ids {
            // B does not run these yet: it waits until it finds A's lease ended, then takes them over.
            let (status, json) = try b.request("GET", "/tenants/\(schema)/executions/\(id)")
            #expect(status == 200)
            var result = json
            while result["status"]?.stringValue == "Running" || result["status"]?.stringValue == "Pending" {
                _ = b.waitForLog("took over executions", seconds: 1)
                result = try b.request("GET", "/tenants/\(schema)/executions/\(id)?wait=true").json
            }
            #expect(result["status"] == "Completed", "\(result)")
            for task in result["tasks"]?.arrayValue ?? [] {
                recorded["\(id) \(task["id"]?.stringValue ?? "")"] = task["attempts"]?.intValue
            }
        }
        #expect(b.count("took over executions") >= 1, "\(b.logText)")
        let metrics = try b.requestText("GET", "/metrics").body
        let takeovers = metrics.split(separator: "\n").first {
            $0.hasPrefix("cloacina_takeovers_total{tenant=\"\(schema)\"}")
        }
        // Every execution A left unfinished; some may have ended on A before the kill.
        #expect(
            takeovers.flatMap { $0.split(separator: " ").last.flatMap { Int($0) } }.map { (1...8).contains($0) }
                == true,
            "\(metrics)"
        )
        b.signal(SIGTERM)
        #expect(b.waitForExit() == 0)

        let invoked = try fixture.invoked()
        #expect(recorded.count == ids.count * 3)
        for (key, attempts) in recorded.sorted(by: { $0.key < $1.key }) {
            let calls = invoked[key] ?? []
            #expect(Set(calls).count == calls.count, "\(key): an attempt number ran twice: \(calls)")
            #expect(calls.contains(attempts), "\(key): the completed attempt \(attempts) never ran: \(calls)")
        }
    }

    @Test(
        "PostgreSQL: hosts are notified of work left unclaimed and of cancel requests (no wait for a timer)",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func notifications() throws {
        let url = try #require(Self.postgresURL)
        let schema = Self.schema("notify")
        defer { Self.removeTenant(schema, url) }
        let fixture = try RecoveryCountingTests.Fixture("notify")
        // A lease of 10 minutes: the timers (a sweep every 5 minutes, a lease renewal every 200 s) cannot be what
        // picks the work up or delivers the cancel within the test's waits.
        func host(_ name: String) throws -> DaemonProcess {
            try DaemonProcess(
                drop: fixture.drop,
                data: fixture.directory.file(name),
                arguments: ["--database", url, "--tenants", schema, "--lease", "600"]
            )
        }
        let a = try host("a")
        let b = try host("b")
        defer {
            for daemon in [a, b] {
                daemon.signal(SIGKILL)
                _ = daemon.waitForExit()
            }
        }
        let tenant = ["--database", url, "--tenant", schema]

        // Submitted by a process that does not run it: a host claims it as soon as it commits.
        let submitted = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["run", "chain", "--workflows", fixture.drop, "--no-wait", "--output", "json"] + tenant
                + ["--data-dir", fixture.directory.file("cli")]
        )
        #expect(submitted.exitStatus == 0, "\(submitted.standardError)")
        let id = try #require(try JSONValue(parsing: Array(submitted.standardOutput.utf8))["execution_id"]?.stringValue)
        var claimedBy: DaemonProcess?
        for _ in 0..<120 where claimedBy == nil {
            claimedBy = [a, b].first { $0.waitForLog("took over executions", seconds: 0.25) }
        }
        let owner = try #require(claimedBy, "no host claimed the execution: \(a.logText)\n\(b.logText)")
        let result = try owner.request("GET", "/tenants/\(schema)/executions/\(id)?wait=true").json
        #expect(result["status"] == "Completed", "\(result)")

        // Cancelled through the store by another process: the owner hears of it at once.
        let stuck = try RecoveryCountingTests.submit(a, schema, "stuck")
        fixture.awaitInvocations(3 + 1)
        let cancel = try runCommand(TestEnvironment.cloacinaExecutable, ["executions", "cancel", stuck] + tenant)
        #expect(cancel.exitStatus == 0, "\(cancel.standardError)")
        #expect(cancel.standardOutput.contains("cancel pending"), "\(cancel.standardOutput)")
        let cancelled = try a.request("GET", "/tenants/\(schema)/executions/\(stuck)?wait=true").json
        #expect(cancelled["status"] == "Cancelled", "\(cancelled)")

        // Each host lists both, itself marked; the CLI reads the same entries from the store.
        let held = try RecoveryCountingTests.submit(b, schema, "stuck")
        fixture.awaitInvocations(1)
        let (status, listed) = try a.request("GET", "/hosts")
        #expect(status == 200)
        let hosts = listed["hosts"]?.arrayValue ?? []
        #expect(hosts.count == 2 && hosts.allSatisfy { $0["live"] == true }, "\(listed)")
        #expect(hosts.filter { $0["self"] == true }.count == 1, "\(listed)")
        #expect(hosts.allSatisfy { $0["tenants"] == [.string(schema)] && $0["version"] == "0.1.0" }, "\(listed)")
        #expect(hosts.map { $0["owned"]?.intValue ?? -1 }.sorted() == [0, 1], "\(listed)")
        let cli = try runCommand(TestEnvironment.cloacinaExecutable, ["hosts", "--output", "json"] + tenant)
        #expect(cli.exitStatus == 0, "\(cli.standardError)")
        let fromStore = try JSONValue(parsing: Array(cli.standardOutput.utf8))["hosts"]?.arrayValue ?? []
        #expect(Set(fromStore.compactMap { $0["id"]?.stringValue }) == Set(hosts.compactMap { $0["id"]?.stringValue }))
        let metrics = try a.requestText("GET", "/metrics").body
        #expect(metrics.contains("cloacina_hosts_live 2"), "\(metrics)")
        #expect(metrics.contains("cloacina_executions_claimed_total{tenant=\"\(schema)\"}"), "\(metrics)")
        _ = try runCommand(TestEnvironment.cloacinaExecutable, ["executions", "cancel", held] + tenant)
    }

    @Test("SQLite: a second serve on the same data directory is refused, naming the first")
    func sqliteSingleHost() throws {
        let fixture = try RecoveryCountingTests.Fixture("single-host")
        let first = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        defer {
            first.signal(SIGTERM)
            _ = first.waitForExit()
        }
        let second = try runCommand(
            TestEnvironment.cloacinaExecutable,
            [
                "serve", "--workflows", fixture.drop, "--data-dir", fixture.data, "--http", "127.0.0.1:0",
                "--pid-file", fixture.directory.file("second.pid"),
            ]
        )
        #expect(second.exitStatus == 2, "\(second.standardError)")
        #expect(second.standardError.contains("another cloacina serve (pid \(first.pid) on host"))
        #expect(second.standardError.contains("SQLite tenants have one host at a time"))
    }
}
