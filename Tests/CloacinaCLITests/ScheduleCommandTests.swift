import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `cloacina schedules` and the host firing them, through real processes: a compiled package whose task body
/// appends `<execution> <task> <attempt>` to a file, so what ran is counted, not inferred from statuses. One test at a
/// time: each runs hosts for seconds, and many at once would slow every other suite's hosts.
@Suite("cloacina schedules", .serialized)
struct ScheduleCommandTests {
    struct Fixture {
        let directory: TemporaryDirectory
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }
        var invocations: String { directory.file("invocations") }

        init(_ label: String, declaring schedule: String? = nil, taskMilliseconds: Int = 0) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
            var package = CorpusPackage()
            package.name = "ticking"
            package.abiMinor = schedule == nil ? 0 : 1
            package.initEpilogue = schedule ?? ""
            package.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
            package.workflows = [("tick", [.init("a")])]
            package.taskPrologue = """
                {
                    char line[256];
                    int n = snprintf(line, sizeof line, "%s %s %u\\n", call->execution_id, call->task_id, call->attempt);
                    int f = open("\(invocations)", O_WRONLY | O_APPEND | O_CREAT, 0600);
                    if (f >= 0) { (void)!write(f, line, (size_t)n); close(f); }
                    for (int waited = 0; waited < \(taskMilliseconds) && !host->is_cancelled(call); waited += 10) {
                        usleep(10000);
                    }
                }
                """
            try package.build(in: drop, fileName: "libticking.so")
        }

        func cloacina(_ arguments: [String], database: String? = nil) throws -> (CommandResult, JSONValue) {
            var all = arguments + ["--data-dir", data]
            if let database { all += ["--database", database] }
            if arguments.starts(with: ["schedules", "create"]) || arguments.starts(with: ["schedules", "backfill"]) {
                all += ["--workflows", drop]
            }
            let result = try runCommand(TestEnvironment.cloacinaExecutable, all)
            return (result, (try? JSONValue(parsing: result.standardOutput)) ?? .null)
        }

        /// How many times each execution's task ran.
        func invoked() -> [String: Int] {
            let text = (try? String(contentsOfFile: invocations, encoding: .utf8)) ?? ""
            var counts: [String: Int] = [:]
            for line in text.split(separator: "\n") {
                if let execution = line.split(separator: " ").first { counts[String(execution), default: 0] += 1 }
            }
            return counts
        }

        /// The executions the schedule started: fire time → execution id, checked to be one per fire time.
        func scheduled(database: String? = nil, tenant: [String] = []) throws -> [Int64: String] {
            let (list, json) = try cloacina(
                ["executions", "list", "--limit", "10000", "--output", "json"] + tenant,
                database: database
            )
            #expect(list.exitStatus == 0, "\(list.standardError)")
            var byFire: [Int64: String] = [:]
            for execution in json.arrayValue ?? [] {
                guard let fire = execution["scheduled_for"]?.intValue, let id = execution["execution_id"]?.stringValue
                else { continue }
                #expect(byFire[Int64(fire)] == nil, "fire time \(fire) has two executions")
                byFire[Int64(fire)] = id
            }
            return byFire
        }
    }

    @Test(
        "a host stopped for several periods catches up by its policy on restart; every fire time runs at most once",
        arguments: ["skip", "all", "none"]
    )
    func catchUpAfterDowntime(policy: String) throws {
        let fixture = try Fixture("schedules-catch-up-\(policy)")
        let (created, createdJSON) = try fixture.cloacina([
            "schedules", "create", "every-second", "--workflow", "tick", "--cron", "* * * * * *", "--catch-up", policy,
            "--output", "json",
        ])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        #expect(createdJSON["catch_up"]?.stringValue == policy)
        #expect(createdJSON["next_fire_at"]?.intValue != nil)

        let first = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        #expect(first.waitForLog("schedule fired", times: 2), "\(first.logText)")
        first.signal(SIGTERM)
        #expect(first.waitForExit() == 0)
        let (shown, shownJSON) = try fixture.cloacina(["schedules", "show", "every-second", "--output", "json"])
        #expect(shown.exitStatus == 0, "\(shown.standardError)")
        let stoppedThrough = Int64(try #require(shownJSON["fired_through"]?.intValue))

        // The host is down for several periods: time has to pass for fire times to be missed.
        Thread.sleep(forTimeInterval: 4.5)
        let second = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        #expect(second.waitForLog("schedule missed fire times"), "\(second.logText)")
        #expect(second.waitForLog("schedule fired", times: policy == "none" ? 2 : 3), "\(second.logText)")
        second.signal(SIGTERM)
        #expect(second.waitForExit() == 0)

        let byFire = try fixture.scheduled()
        // The first three fire times of the downtime: all of them ran under `all`, none under `skip` (only the
        // latest missed one) or `none`.
        let window = byFire.keys.filter { $0 > stoppedThrough && $0 <= stoppedThrough + 3_000 }
        #expect(window.count == (policy == "all" ? 3 : 0), "\(byFire.keys.sorted()) after \(stoppedThrough)")
        let missedLine = second.logText.split(separator: "\n").first { $0.contains("schedule missed fire times") }
        let expectedRun = policy == "skip" ? "run=1" : policy == "none" ? "run=0" : nil
        if let expectedRun { #expect(missedLine?.contains(expectedRun) == true, "\(missedLine ?? "")") }
        // Every execution the schedule started ran its task exactly once, but the latest, which the stop may have
        // left for the next start (recorded, not run yet).
        let invoked = fixture.invoked()
        let fires = byFire.sorted(by: { $0.key < $1.key })
        for (fire, id) in fires.dropLast() {
            #expect(invoked[id] == 1, "fire time \(fire): execution \(id) ran \(invoked[id] ?? 0) times")
        }
        #expect((invoked[fires.last?.value ?? ""] ?? 0) <= 1)
        #expect(Set(invoked.keys).isSubset(of: Set(byFire.values)))
    }

    @Test("bad input is refused naming what is wrong, and nothing is written")
    func badInput() throws {
        let fixture = try Fixture("schedules-bad-input")
        let cases: [([String], String)] = [
            (["--cron", "61 * * * *"], "minute"),
            (["--cron", "* * * * *", "--time-zone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
            (["--cron", "@daily", "--start", "2026-02-01", "--end", "2026-01-01"], "before start"),
            (["--cron", "@daily", "--start", "tomorrow"], "'tomorrow' is not an instant"),
            (["--cron", "@daily", "--catch-up", "sometimes"], "--catch-up must be skip, all or none"),
            (["--cron", "@daily", "--overlap", "maybe"], "--overlap must be"),
            (["--cron", "@daily", "--context", "[1]"], "JSON object"),
            (["--cron", "@daily", "--catch-up-cap", "0"], "catch-up cap"),
        ]
        for (arguments, message) in cases {
            let (result, _) = try fixture.cloacina(["schedules", "create", "s", "--workflow", "tick"] + arguments)
            #expect(result.exitStatus == 2, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
        let (unknown, _) = try fixture.cloacina(["schedules", "create", "s", "--workflow", "nope", "--cron", "@daily"])
        #expect(unknown.exitStatus == 2 && unknown.standardError.contains("nope"), "\(unknown.standardError)")
        let (badID, _) = try fixture.cloacina([
            "schedules", "create", "9 lives", "--workflow", "tick", "--cron", "@daily",
        ])
        #expect(badID.exitStatus == 2 && badID.standardError.contains("not a valid name"), "\(badID.standardError)")
        let (list, listJSON) = try fixture.cloacina(["schedules", "list", "--output", "json"])
        #expect(list.exitStatus == 0, "\(list.standardError)")
        #expect(listJSON["schedules"]?.arrayValue?.isEmpty == true)

        let (created, _) = try fixture.cloacina(["schedules", "create", "s", "--workflow", "tick", "--cron", "@hourly"])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        let (again, _) = try fixture.cloacina(["schedules", "create", "s", "--workflow", "tick", "--cron", "@daily"])
        #expect(again.exitStatus == 1 && again.standardError.contains("exists"), "\(again.standardError)")
        let (tooLong, _) = try fixture.cloacina(["schedules", "backfill", "s", "2026-01-01", "2026-02-01"])
        #expect(tooLong.exitStatus == 2 && tooLong.standardError.contains("more than 100"), "\(tooLong.standardError)")
        let (reversed, _) = try fixture.cloacina(["schedules", "backfill", "s", "2026-02-01", "2026-01-01"])
        #expect(reversed.exitStatus == 2 && reversed.standardError.contains("ends before"), "\(reversed.standardError)")
        let (missing, _) = try fixture.cloacina(["schedules", "pause", "nothing"])
        #expect(missing.exitStatus == 2 && missing.standardError.contains("no schedule nothing"))
        #expect(try fixture.scheduled().isEmpty)
    }

    @Test("pause, resume, backfill exactly once per fire time, delete; list shows the next fire time")
    func manage() throws {
        let fixture = try Fixture("schedules-manage")
        _ = try fixture.cloacina([
            "schedules", "create", "hourly", "--workflow", "tick", "--cron", "0 * * * *", "--time-zone",
            "Europe/Paris", "--context", #"{"n": 1}"#,
        ])
        let (paused, pausedJSON) = try fixture.cloacina(["schedules", "pause", "hourly", "--output", "json"])
        #expect(paused.exitStatus == 0, "\(paused.standardError)")
        #expect(pausedJSON["paused"] == true && pausedJSON["next_fire_at"] == .null)
        let (refused, _) = try fixture.cloacina([
            "schedules", "backfill", "hourly", "2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z",
        ])
        #expect(refused.exitStatus == 1 && refused.standardError.contains("paused"), "\(refused.standardError)")
        let (resumed, resumedJSON) = try fixture.cloacina(["schedules", "resume", "hourly", "--output", "json"])
        #expect(
            resumed.exitStatus == 0 && resumedJSON["paused"] == false && resumedJSON["next_fire_at"]?.intValue != nil
        )

        let range = ["2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z"]
        let (backfill, backfillJSON) = try fixture.cloacina(
            ["schedules", "backfill", "hourly"] + range + ["--output", "json"]
        )
        #expect(backfill.exitStatus == 0, "\(backfill.standardError)")
        #expect(backfillJSON["execution_ids"]?.arrayValue?.count == 3)
        let (again, againJSON) = try fixture.cloacina(
            ["schedules", "backfill", "hourly"] + range + ["--output", "json"]
        )
        #expect(again.exitStatus == 0 && againJSON["execution_ids"]?.arrayValue?.isEmpty == true)
        // Recorded for the host: `serve` runs them once it starts.
        let host = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        let byFire = try fixture.scheduled()
        #expect(byFire.keys.sorted() == [1_767_225_600_000, 1_767_229_200_000, 1_767_232_800_000])
        for id in byFire.values {
            let (status, json) = try host.request("GET", "/tenants/default/executions/\(id)?wait=true")
            #expect(status == 200 && json["status"] == "Completed" && json["schedule_id"] == "hourly", "\(json)")
        }
        host.signal(SIGTERM)
        #expect(host.waitForExit() == 0)
        #expect(fixture.invoked().values.sorted() == [1, 1, 1])

        let (list, listText) = try fixture.cloacina(["schedules", "list"])
        #expect(
            list.exitStatus == 0 && list.standardOutput.contains("hourly")
                && list.standardOutput.contains("Europe/Paris")
        )
        _ = listText
        let (listed, listedJSON) = try fixture.cloacina([
            "executions", "list", "--schedule", "hourly", "--output", "json",
        ])
        #expect(listed.exitStatus == 0 && listedJSON.arrayValue?.count == 3, "\(listed.standardError)")
        #expect(
            try fixture.cloacina(["executions", "list", "--schedule", "other", "--output", "json"]).1 == .array([])
        )
        let (deleted, _) = try fixture.cloacina(["schedules", "delete", "hourly"])
        #expect(deleted.exitStatus == 0, "\(deleted.standardError)")
        let (show, _) = try fixture.cloacina(["schedules", "show", "hourly"])
        #expect(show.exitStatus == 2)
        #expect(try fixture.scheduled().count == 3)  // its executions stay
    }

    @Test(
        "PostgreSQL: two hosts watching one schedule fire each time once, and each run's task runs once",
        .enabled(if: MultiHostTests.postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func twoHosts() throws {
        let url = try #require(MultiHostTests.postgresURL)
        let schema = MultiHostTests.schema("sched")
        defer { MultiHostTests.removeTenant(schema, url) }
        let fixture = try Fixture("schedules-two-hosts")
        let (tenant, _) = try fixture.cloacina(["tenant", "create", schema], database: url)
        #expect(tenant.exitStatus == 0, "\(tenant.standardError)")
        func host(_ name: String) throws -> DaemonProcess {
            try DaemonProcess(
                drop: fixture.drop,
                data: fixture.directory.file(name),
                arguments: ["--database", url, "--tenants", schema]
            )
        }
        let a = try host("a")
        let b = try host("b")
        // Created while both serve: the store's notification tells them, no restart or reload needed.
        let (created, _) = try fixture.cloacina(
            ["schedules", "create", "tick", "--workflow", "tick", "--cron", "* * * * * *", "--tenant", schema],
            database: url
        )
        #expect(created.exitStatus == 0, "\(created.standardError)")
        // Both watch it; fire times pass (each fired by one of them).
        #expect(a.waitForLog("schedule fired", times: 3) || b.waitForLog("schedule fired", times: 3))
        #expect((a.count("schedule fired") + b.count("schedule fired")) >= 3)
        #expect(
            try fixture.cloacina(["schedules", "pause", "tick", "--tenant", schema], database: url).0.exitStatus == 0
        )
        for host in [a, b] {
            host.signal(SIGTERM)
            #expect(host.waitForExit() == 0)
        }
        let byFire = try fixture.scheduled(database: url, tenant: ["--tenant", schema])
        #expect(byFire.count >= 3)
        // Each fire time once (checked by `scheduled`), and the fires a host logged add up to the executions.
        #expect(a.count("schedule fired") + b.count("schedule fired") == byFire.count, "\(byFire.keys.sorted())")
        let invoked = fixture.invoked()
        for (fire, id) in byFire.sorted(by: { $0.key < $1.key }) where invoked[id] != nil {
            #expect(invoked[id] == 1, "fire time \(fire): execution \(id) ran \(invoked[id] ?? 0) times")
        }
    }

    @Test("a package declares a default schedule (ABI 1.1): created once per tenant as source package, and it fires")
    func packageDefault() throws {
        let declaration = """
                {
                    cloacina_schedule_def def = {0};
                    def.struct_size = sizeof def;
                    def.workflow = "tick";
                    def.id = "from-package";
                    def.cron = "* * * * * *";
                    def.input_json = "{\\"source\\": \\"package\\"}";
                    def.overlap = "skip";
                    if (host->abi_minor >= 1) host->register_schedule(registrar, &def);
                }

            """
        let fixture = try Fixture("schedules-package", declaring: declaration)
        let host = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        #expect(host.waitForLog("created a package's default schedule"), "\(host.logText)")
        #expect(host.waitForLog("schedule fired"), "\(host.logText)")
        let (shown, shownJSON) = try fixture.cloacina(["schedules", "show", "from-package", "--output", "json"])
        #expect(shown.exitStatus == 0, "\(shown.standardError)")
        #expect(shownJSON["source"] == "package" && shownJSON["overlap"] == "skip")
        #expect(shownJSON["input"]?["source"] == "package")
        // The tenant's own change sticks: a paused default stays paused when the package loads again.
        #expect(try fixture.cloacina(["schedules", "pause", "from-package"]).0.exitStatus == 0)
        host.signal(SIGHUP)
        #expect(host.waitForLog("checked the packages' default schedules", times: 3), "\(host.logText)")
        let (again, againJSON) = try fixture.cloacina(["schedules", "show", "from-package", "--output", "json"])
        #expect(again.exitStatus == 0 && againJSON["paused"] == true, "\(againJSON)")
        // A deleted one comes back with the next load.
        #expect(try fixture.cloacina(["schedules", "delete", "from-package"]).0.exitStatus == 0)
        host.signal(SIGHUP)
        #expect(host.waitForLog("created a package's default schedule", times: 2), "\(host.logText)")
        #expect(try fixture.cloacina(["schedules", "show", "from-package", "--output", "json"]).1["paused"] == false)
        host.signal(SIGTERM)
        #expect(host.waitForExit() == 0)
    }

    @Test("a package declaring a bad schedule is rejected at load, naming the schedule and what is wrong")
    func packageDefaultRejected() throws {
        let declaration = """
                {
                    cloacina_schedule_def def = {0};
                    def.struct_size = sizeof def;
                    def.workflow = "tick";
                    def.id = "broken";
                    def.cron = "0 25 * * *";
                    host->register_schedule(registrar, &def);
                }

            """
        let fixture = try Fixture("schedules-package-bad", declaring: declaration)
        let result = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["check", "\(fixture.drop)/libticking.so", "--output", "json"]
        )
        #expect(result.exitStatus == 1, "\(result.standardError)")
        #expect(
            result.standardOutput.contains("schedule \\\"broken\\\" of workflow \\\"tick\\\""),
            "\(result.standardOutput)"
        )
        #expect(result.standardOutput.contains("hour"), "\(result.standardOutput)")
    }

    @Test(
        "overlap policies with runs longer than the period: allow overlaps, skip and queue never do, cancel-previous cancels",
        arguments: ["allow", "skip", "queue", "cancel-previous"]
    )
    func overlap(policy: String) throws {
        let fixture = try Fixture("schedules-overlap-\(policy)", taskMilliseconds: 2_500)
        let (created, _) = try fixture.cloacina([
            "schedules", "create", "busy", "--workflow", "tick", "--cron", "* * * * * *", "--overlap", policy,
        ])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        let host = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        // Fire times pass while runs take 2.5 s each.
        #expect(host.waitForLog("schedule fired", times: policy == "allow" || policy == "cancel-previous" ? 5 : 2))
        if policy == "queue" || policy == "skip" {
            // Two runs one after the other take five seconds; the fire times of that span were waited for or skipped.
            #expect(host.waitForLog("schedule fired", times: 3), "\(host.logText)")
        }
        let metrics = try host.requestText("GET", "/metrics").body
        host.signal(SIGTERM)
        #expect(host.waitForExit() == 0)
        let (list, json) = try fixture.cloacina(["executions", "list", "--limit", "1000", "--output", "json"])
        #expect(list.exitStatus == 0)
        let runs = (json.arrayValue ?? []).compactMap { run -> (start: Int, end: Int, status: String)? in
            guard let start = run["started_at"]?.intValue, let status = run["status"]?.stringValue else { return nil }
            return (start, run["completed_at"]?.intValue ?? Int.max, status)
        }.sorted { $0.start < $1.start }
        let overlapping = zip(runs, runs.dropFirst()).filter { $0.1.start < $0.0.end }.count
        let skipped =
            metrics.split(separator: "\n").first {
                $0.hasPrefix(#"cloacina_schedule_skipped_total{tenant="default",schedule="busy",policy="overlap"}"#)
            }.flatMap { $0.split(separator: " ").last.flatMap { Int($0) } } ?? 0
        switch policy {
        case "allow":
            #expect(overlapping > 0, "\(runs)")
            #expect(skipped == 0)
        case "skip":
            #expect(overlapping == 0, "\(runs)")
            #expect(skipped > 0, "\(metrics)")
        case "queue":
            #expect(overlapping == 0, "\(runs)")
            #expect(skipped == 0, "\(metrics)")
        default:
            #expect(runs.contains { $0.status == "Cancelled" }, "\(runs)")
        }
    }

    @Test("SQLite: a schedule created and paused with the CLI while serve runs takes effect without a restart")
    func changedWhileServing() throws {
        let fixture = try Fixture("schedules-live")
        let host = try DaemonProcess(drop: fixture.drop, data: fixture.data)
        let (created, _) = try fixture.cloacina([
            "schedules", "create", "live", "--workflow", "tick", "--cron", "* * * * * *",
        ])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        #expect(host.waitForLog("schedule fired", times: 2), "\(host.logText)")
        #expect(try fixture.cloacina(["schedules", "pause", "live"]).0.exitStatus == 0)
        // The pause reached the host by a reload (the command's SIGHUP), after which no fire time runs.
        #expect(host.waitForLog("reloaded", times: 2), "\(host.logText)")
        host.signal(SIGTERM)
        #expect(host.waitForExit() == 0)
        let fired = try fixture.scheduled()
        #expect(fired.count >= 2)
        let (shown, shownJSON) = try fixture.cloacina(["schedules", "show", "live", "--output", "json"])
        #expect(shown.exitStatus == 0 && shownJSON["paused"] == true)
    }

    @Test("scheduled fires wait while the host holds its limit of unfinished executions, then run")
    func admission() throws {
        let fixture = try Fixture("schedules-admission", taskMilliseconds: 2_500)
        let (created, _) = try fixture.cloacina([
            "schedules", "create", "busy", "--workflow", "tick", "--cron", "* * * * * *", "--overlap", "allow",
        ])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        let host = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--max-pending-executions", "1"]
        )
        #expect(host.waitForLog("schedule fire waits"), "\(host.logText)")
        #expect(host.waitForLog("schedule fired", times: 2), "\(host.logText)")
        host.signal(SIGTERM)
        #expect(host.waitForExit() == 0)
        let (list, json) = try fixture.cloacina(["executions", "list", "--limit", "1000", "--output", "json"])
        #expect(list.exitStatus == 0)
        let runs = (json.arrayValue ?? []).compactMap { run -> (start: Int, end: Int)? in
            guard let start = run["started_at"]?.intValue else { return nil }
            return (start, run["completed_at"]?.intValue ?? Int.max)
        }.sorted { $0.start < $1.start }
        // One unfinished execution at a time: allow would overlap them otherwise (see the overlap test).
        #expect(zip(runs, runs.dropFirst()).allSatisfy { $0.1.start >= $0.0.end }, "\(runs)")
    }
}
