import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Testing

/// The seed documents' way of opening a tenant (`withSchema`, `DefaultRunner(databaseURL:)`, `TenantManager`) and
/// registering workflows afterwards: an execution a crash left behind waits for its package instead of failing,
/// and resumes once the package is registered.
@Suite("Resuming after the workflows are registered")
struct ResumeAfterRegistrationTests {
    /// A two-task workflow whose first attempt of `work` holds until the test lets it go and then fails (it was
    /// abandoned); later attempts succeed.
    final class Held: Sendable {
        let started = Gate()
        let release = Gate()
        var package: WorkflowPackage {
            WorkflowPackage(name: "held", version: "1") {
                Workflow("held") {
                    WorkflowTask("prepare") { ctx in ctx["prepared"] = true }
                    WorkflowTask("work", dependsOn: "prepare", retry: RetryPolicy(maxAttempts: 3)) { [self] ctx in
                        if ctx.attempt == 1 {
                            started.open()
                            _ = release.wait()
                            throw TaskFailure.failed("abandoned")
                        }
                        ctx["worked"] = .int(ctx.attempt)
                    }
                }
            }
        }
    }

    /// Leaves an execution of `held` unfinished in the store, its `work` attempt 1 recorded as running.
    static func leaveUnfinished(_ held: Held, open: () async throws -> DefaultRunner) async throws -> String {
        let first = try await open()
        try first.register(held.package)
        let id = try await first.executeAsync("held")
        #expect(await held.started.waitAsync())
        await first.shutdown(timeout: .zero)
        return id
    }

    static func checkWaitsThenResumes(_ id: String, held: Held, open: () async throws -> DefaultRunner) async throws {
        let second = try await open()
        // Opened before its workflows are registered: the execution waits, it is not failed.
        let waiting = try await second.executionStatus(id)
        #expect(waiting.status == .running)
        let events = try await second.events(of: id)
        #expect(events.contains { $0.kind == .executionWaiting && ($0.detail ?? "").contains("held 1") })
        try second.register(held.package)
        try await second.resumeUnfinished()
        let result = try await second.waitForExecution(id)
        held.release.open()
        #expect(result.status == .completed)
        #expect(result.tasks.map(\.attempts) == [1, 2])
        #expect(result.finalContext == ["prepared": true, "worked": 2])
        await second.shutdown()
    }

    @Test("SQLite: DefaultRunner(databaseURL:) opened before register keeps the execution and resumes it")
    func sqlite() async throws {
        let directory = try TemporaryDirectory("resume-register")
        let url = "sqlite://\(directory.file("tenant.db"))"
        let held = Held()
        let id = try await Self.leaveUnfinished(held) { try await DefaultRunner(databaseURL: url) }
        try await Self.checkWaitsThenResumes(id, held: held) { try await DefaultRunner(databaseURL: url) }
    }

    @Test(
        "PostgreSQL: withSchema opened before register keeps the execution and resumes it",
        .enabled(if: TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func postgres() async throws {
        let url = try #require(TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL"))
        let schema = StoreBackend.uniqueSchemaName("resume_register")
        defer { StoreBackend.dropSchema(schema, url: url) }
        let held = Held()
        let id = try await Self.leaveUnfinished(held) { try await DefaultRunner.withSchema(url, schema) }
        try await Self.checkWaitsThenResumes(id, held: held) { try await DefaultRunner.withSchema(url, schema) }
    }

    @Test("TenantManager(databaseURL:packages:) resumes a tenant's unfinished execution when the tenant opens")
    func tenantManager() async throws {
        let directory = try TemporaryDirectory("resume-manager")
        let url = "sqlite://\(directory.file("default.db"))"
        let held = Held()
        let first = TenantManager(storage: .sqliteFiles(directory: directory.path))
        try first.register(held.package)
        let id = try await first.runner(for: "acme").executeAsync("held")
        #expect(await held.started.waitAsync())
        await first.shutdown(timeout: .zero)

        let manager = try TenantManager(databaseURL: url, packages: [held.package])
        let result = try await manager.runner(for: "acme").waitForExecution(id)
        held.release.open()
        #expect(result.status == .completed)
        #expect(result.tasks.map(\.attempts) == [1, 2])
        held.release.open()  // for the fresh execution's first attempt
        let fresh = try await manager.executeForTenant("acme", "held")
        #expect(fresh.status == .completed)
        await manager.shutdown()
    }
}
