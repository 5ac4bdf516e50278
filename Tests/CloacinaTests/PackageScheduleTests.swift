import Cloacina
import CloacinaSDK
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
