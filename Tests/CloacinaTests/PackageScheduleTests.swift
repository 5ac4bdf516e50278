import Cloacina
import CloacinaSDK
import CloacinaSQLite
import CloacinaTestSupport
import Testing

/// Default schedules a Swift package declares (`Workflow(schedules:)`), through the SDK, the ABI 1.1
/// `register_schedule` and the host's checks.
@Suite("Package default schedules")
struct PackageScheduleTests {
    @Test("declared schedules reach the workflow's definition as given, defaults filled in")
    func declared() throws {
        let package = WorkflowPackage(name: "scheduled", version: "1.0.0") {
            Workflow(
                "report",
                schedules: [
                    Schedule("nightly", cron: "30 2 * * *", timeZone: "Europe/London", input: ["k": 1], overlap: .skip),
                    Schedule("hourly", cron: "@hourly", catchUp: .all, catchUpCap: 5),
                ]
            ) {
                WorkflowTask("publish") { _ in }
            }
        }
        let directory = try TemporaryDirectory("package-schedules")
        let report = PackageLoader(cacheDirectory: directory.file("cache")).load(embedded: package)
        #expect(report.isLoaded, "\(String(describing: report.error))")
        let schedules = report.workflows.first?.schedules ?? []
        #expect(
            schedules == [
                ScheduleDefault(
                    id: "nightly",
                    cron: "30 2 * * *",
                    timeZone: "Europe/London",
                    input: #"{"k":1}"#,
                    overlap: "skip"
                ),
                ScheduleDefault(id: "hourly", cron: "@hourly", catchUp: "all", catchUpCap: 5),
            ]
        )
        // They travel with the definition's JSON (a loading probe's report), and a definition without any reads as
        // before.
        let json = try #require(report.workflows.first?.json)
        #expect(try WorkflowDefinition(json: json).schedules == schedules)
        #expect(WorkflowDefinition(name: "w", tasks: []).json["schedules"] == nil)
    }

    @Test(
        "a bad declaration rejects the package, naming the schedule and what is wrong",
        arguments: [
            (Schedule("bad", cron: "0 25 * * *"), "hour"),
            (Schedule("bad", cron: "@daily", timeZone: "Mars/Base"), "Mars/Base"),
            (Schedule("bad", cron: "@daily", catchUpCap: 5000), "catch_up_cap"),
            (Schedule("9bad", cron: "@daily"), "schedule id"),
        ]
    )
    func rejected(schedule: Schedule, message: String) throws {
        let package = WorkflowPackage(name: "badly-scheduled", version: "1.0.0") {
            Workflow("report", schedules: [schedule]) { WorkflowTask("publish") { _ in } }
        }
        let directory = try TemporaryDirectory("package-schedules-bad")
        let report = PackageLoader(cacheDirectory: directory.file("cache")).load(embedded: package)
        #expect(!report.isLoaded)
        #expect(report.error?.description.contains(message) == true, "\(String(describing: report.error))")
    }
}

/// Schedule rows are tenant data: a tenant whose role writes its schedules table directly is held to the same cap.
@Suite("Schedule rows written past the runner")
struct ScheduleRowTrustTests {
    @Test("a cap stored beyond the maximum is held to it: a backfill over the maximum is refused")
    func capHeld() async throws {
        let directory = try TemporaryDirectory("schedule-row-cap")
        let package = WorkflowPackage(name: "rows", version: "1.0.0") {
            Workflow("report") { WorkflowTask("publish") { _ in } }
        }
        let url = "sqlite://\(directory.file("state.db"))"
        let store = try SQLiteExecutionStore(path: directory.file("state.db"))
        let row = ScheduleRecord(
            id: "greedy",
            workflow: "report",
            cron: "* * * * * *",
            catchUp: .all,
            catchUpCap: 1_000_000,
            createdAt: Timestamp(milliseconds: 0)
        )
        #expect(try store.createSchedule(row))
        store.close()
        var configuration = DefaultRunner.Configuration(databaseURL: url)
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.embeddedPackages = [package]
        let runner = try await DefaultRunner.Builder(configuration: configuration).build()
        // An hour of every-second fire times: 3,601, over the maximum cap of 1,000 whatever the row says.
        let from = Timestamp(milliseconds: try CronSchedule.instant("2026-01-01T00:00:00Z"))
        let through = Timestamp(milliseconds: try CronSchedule.instant("2026-01-01T01:00:00Z"))
        await #expect(throws: CloacinaError.self) { try await runner.backfill("greedy", from: from, through: through) }
        #expect(try await runner.listExecutions(ExecutionQuery(scheduleID: "greedy")).isEmpty)
        await runner.shutdown()
    }
}
