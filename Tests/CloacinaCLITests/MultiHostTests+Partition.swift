import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Several hosts on one PostgreSQL under partition, drain and load: real `cloacina serve` processes, one of them in a
/// network namespace of its own whose link the test takes down.
extension MultiHostTests {
    static var postgresURL: String? { TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") }

    /// A fresh tenant schema name; the caller removes it.
    static func schema(_ label: String) -> String {
        "\(label)_\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    static func removeTenant(_ schema: String, _ url: String) {
        _ = try? runCommand(TestEnvironment.cloacinaExecutable, ["tenant", "remove", schema, "--database", url])
    }

    @Test(
        "PostgreSQL: a host cut off from the database stops its work, another takes over; healed, it writes nothing",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL"),
        .enabled(if: NetworkNamespace.available, "needs root and iproute2 for network namespaces")
    )
    func partition() throws {
        let url = try #require(Self.postgresURL)
        let schema = Self.schema("partition")
        defer { Self.removeTenant(schema, url) }
        let fixture = try RecoveryCountingTests.Fixture("partition")
        let namespace = try NetworkNamespace()
        // B reaches the server only through its link: a proxy on the test's side of the veth pair.
        let proxy = try PostgresFaultProxy(
            forwardingTo: url,
            listeningOn: (namespace.peerAddress, try DaemonProcess.freePort())
        )
        defer { proxy.close() }
        let lease = ["--tenants", schema, "--lease", "3", "--drain-timeout", "0"]
        let a = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.directory.file("a"),
            arguments: ["--database", url] + lease
        )
        // Worker processes: giving an execution up kills its running attempts.
        let b = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.directory.file("b"),
            arguments: ["--database", proxy.url, "--isolation", "process"] + lease,
            namespace: namespace
        )
        defer {
            for daemon in [a, b] {
                daemon.signal(SIGKILL)
                _ = daemon.waitForExit()
            }
        }
        let ids = try (0..<3).map { _ in try RecoveryCountingTests.submit(b, schema, "gated") }
        fixture.awaitInvocations(3)

        try namespace.partition()
        #expect(b.waitForLog("stopping this host's work"), "\(b.logText)")
        // A finds B's leases ended and runs each held task again, as the next attempt.
        fixture.awaitInvocations(3)
        // Enough for B's attempts too, should their workers not be killed yet (they are given a grace period): what
        // B does with their results is what the test is about.
        try fixture.openGate(6)
        var ended: [String: JSONValue] = [:]
        for id in ids {
            let result = try a.request("GET", "/tenants/\(schema)/executions/\(id)?wait=true").json
            #expect(result["status"] == "Completed", "\(result)")
            #expect(result["tasks"]?[0]?["attempts"] == 2, "\(result)")
            ended[id] = result
        }

        try namespace.heal()
        // B is back once it answers a query from the store; what it still had for these executions is dropped.
        var back = false
        for _ in 0..<60 where !back {
            back = (try? b.request("GET", "/hosts"))?.json["hosts"]?.arrayValue?.count == 2
            if !back { _ = b.waitForLog("no line is logged with this text", seconds: 1) }
        }
        #expect(back, "\(b.logText)")
        for id in ids {
            let result = try a.request("GET", "/tenants/\(schema)/executions/\(id)").json
            #expect(result == ended[id], "B wrote over A's result:\n\(result)\n\(ended[id] ?? .null)")
        }
        let invoked = try fixture.invoked()
        for id in ids {
            #expect(invoked["\(id) waits"] == [1, 2], "\(id): \(invoked["\(id) waits"] ?? [])")
        }
    }

    @Test(
        "PostgreSQL: a host drained with SIGTERM hands its unfinished executions to the others at once",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func drainHandsOver() throws {
        let url = try #require(Self.postgresURL)
        let schema = Self.schema("drain")
        defer { Self.removeTenant(schema, url) }
        let fixture = try RecoveryCountingTests.Fixture("drain")
        // A long lease: only the released claims and their notification can move the work this soon.
        func host(_ name: String) throws -> DaemonProcess {
            try DaemonProcess(
                drop: fixture.drop,
                data: fixture.directory.file(name),
                arguments: ["--database", url, "--tenants", schema, "--lease", "600", "--drain-timeout", "0"]
            )
        }
        let a = try host("a")
        let b = try host("b")
        defer {
            a.signal(SIGKILL)
            _ = a.waitForExit()
        }
        let ids = try (0..<3).map { _ in try RecoveryCountingTests.submit(b, schema, "gated") }
        fixture.awaitInvocations(3)
        b.signal(SIGTERM)
        #expect(b.waitForExit() == 0, "\(b.logText)")
        fixture.awaitInvocations(3)
        try fixture.openGate(6)
        for id in ids {
            let result = try a.request("GET", "/tenants/\(schema)/executions/\(id)?wait=true").json
            #expect(result["status"] == "Completed", "\(result)")
        }
        #expect(a.count("took over executions") >= 1, "\(a.logText)")
        let invoked = try fixture.invoked()
        for id in ids {
            let attempts = invoked["\(id) waits"] ?? []
            #expect(attempts.count == 2 && Set(attempts).count == 2, "\(id): \(attempts)")
        }
    }

    @Test(
        "PostgreSQL: three hosts share the load; every execution completes once",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func loadSpread() throws {
        let url = try #require(Self.postgresURL)
        let schema = Self.schema("spread")
        defer { Self.removeTenant(schema, url) }
        let fixture = try RecoveryCountingTests.Fixture("spread")
        let hosts = try ["a", "b", "c"].map { name in
            try DaemonProcess(
                drop: fixture.drop,
                data: fixture.directory.file(name),
                arguments: ["--database", url, "--tenants", schema, "--lease", "600", "--max-concurrent-tasks", "2"]
            )
        }
        defer {
            for host in hosts {
                host.signal(SIGKILL)
                _ = host.waitForExit()
            }
        }
        var ids: [String] = []
        for index in 0..<12 { ids.append(try RecoveryCountingTests.submit(hosts[index % 3], schema, "chain")) }
        // And some that no host was asked to run: whichever hears of them first, with room, claims them.
        for _ in 0..<3 {
            let submitted = try runCommand(
                TestEnvironment.cloacinaExecutable,
                [
                    "run", "chain", "--workflows", fixture.drop, "--no-wait", "--output", "json", "--database", url,
                    "--tenant", schema, "--data-dir", fixture.directory.file("cli"),
                ]
            )
            #expect(submitted.exitStatus == 0, "\(submitted.standardError)")
            let json = try JSONValue(parsing: Array(submitted.standardOutput.utf8))
            ids.append(try #require(json["execution_id"]?.stringValue))
        }
        for id in ids {
            // Whichever host runs it answers once it ended; the others answer at once with what the store has.
            var result: JSONValue = .null
            for _ in 0..<20 {
                for host in hosts {
                    result = try host.request("GET", "/tenants/\(schema)/executions/\(id)?wait=true").json
                    if result["status"] == "Completed" { break }
                }
                if result["status"] == "Completed" { break }
                _ = hosts[0].waitForLog("no line is logged with this text", seconds: 0.5)
            }
            #expect(result["status"] == "Completed", "\(result)")
        }
        for (index, host) in hosts.enumerated() {
            let metrics = try host.requestText("GET", "/metrics").body
            let claimed = metrics.split(separator: "\n").first {
                $0.hasPrefix("cloacina_executions_claimed_total{tenant=\"\(schema)\"}")
            }
            let count = claimed.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0
            #expect(count >= 4, "host \(index) claimed \(count):\n\(metrics)")
        }
        let invoked = try fixture.invoked()
        #expect(invoked.count == ids.count * 3)
        #expect(invoked.values.allSatisfy { $0 == [1] }, "\(invoked)")
    }
}
