import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Testing

/// Tenants of one host share its task threads: one tenant's backlog of long tasks does not hold up another's work.
@Suite("Tenants sharing a host's task threads")
struct TenantFairnessTests {
    /// `wide`: four independent tasks that each hold until the test releases them; `quick`: one task that only
    /// notes that it started. Each start is noted as `tenant:task`.
    static func package(_ jobs: GatedJobs) -> WorkflowPackage {
        WorkflowPackage(name: "sharing", version: "1") {
            Workflow("wide") {
                for index in 1...4 {
                    WorkflowTask("w\(index)") { ctx in jobs.enter("\(ctx.tenant):w\(index)") }
                }
            }
            Workflow("quick") {
                WorkflowTask("q") { ctx in jobs.enter("\(ctx.tenant):q", holding: false) }
            }
        }
    }

    @Test("a tenant at its limit with long tasks leaves the free threads to another, whose workflow ends meanwhile")
    func limitedTenantLeavesThreads() async throws {
        let directory = try TemporaryDirectory("tenants-sharing")
        let jobs = GatedJobs()
        var template = DefaultRunner.Configuration(databaseURL: "")
        template.packageCacheDirectory = directory.file("packages")
        template.embeddedPackages = [Self.package(jobs)]
        template.maxConcurrentTasks = 3
        template.tenantShares = ["acme": TenantShare(maxConcurrentTasks: 2)]
        let tenants = try SQLiteTenantManager(dataDirectory: directory.file("tenants"), template: template)
        let acme = try await tenants.runner(for: "acme")
        let wide = try await acme.executeAsync("wide")
        // acme fills its two slots; its other two tasks wait although a thread is free.
        let running = await jobs.waitForStarts(2)
        #expect(running.count == 2 && running.allSatisfy { $0.hasPrefix("acme:") }, "\(running)")
        // globex's workflow runs to its end while acme's tasks still hold (without the limit, acme's third task
        // would take the last thread and globex would wait for acme).
        let quick = try await tenants.manager.executeForTenant("globex", "quick")
        #expect(quick.status == .completed)
        #expect(jobs.started == running + ["globex:q"])
        jobs.release("acme:w1", "acme:w2", "acme:w3", "acme:w4")
        #expect(try await acme.waitForExecution(wide).status == .completed)
        #expect(jobs.started.count == 5)
        await tenants.manager.shutdown()
    }

    @Test("a tenant's limit is a configuration error when out of range, naming the tenant")
    func invalidShares() async throws {
        let directory = try TemporaryDirectory("tenants-sharing-invalid")
        for (share, message) in [
            (TenantShare(maxConcurrentTasks: 0), "max concurrent tasks of tenant acme must be at least 1, got 0"),
            (TenantShare(weight: 0), "weight of tenant acme must be at least 1, got 0"),
        ] {
            var template = DefaultRunner.Configuration(databaseURL: "")
            template.packageCacheDirectory = directory.file("packages")
            template.tenantShares = ["acme": share]
            let tenants = try SQLiteTenantManager(dataDirectory: directory.file("tenants"), template: template)
            do {
                _ = try await tenants.runner(for: "globex")
                Issue.record("an invalid share of another tenant was accepted")
            } catch {
                #expect(error.code == .configuration)
                #expect(error.message.contains(message), "\(error.message)")
            }
            await tenants.manager.shutdown()
        }
    }
}
