import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Testing

@Suite("Tenants as SQLite files")
struct TenantManagerTests {
    static let package = WorkflowPackage(name: "tenancy", version: "1") {
        Workflow("stamp") {
            WorkflowTask("stamp") { ctx in ctx["tenant"] = .string(ctx.tenant) }
        }
        Workflow("flaky") {
            WorkflowTask("fail") { _ in throw TaskFailure.failed("no") }
        }
    }

    static func manager(_ directory: TemporaryDirectory) throws -> SQLiteTenantManager {
        var template = DefaultRunner.Configuration(databaseURL: "")
        template.packageCacheDirectory = directory.file("packages")
        template.embeddedPackages = [package]
        return try SQLiteTenantManager(dataDirectory: directory.file("tenants"), template: template)
    }

    @Test("a tenant's runner is created once, even when asked for concurrently, and reused")
    func createdOnce() async throws {
        let directory = try TemporaryDirectory("tenants-once")
        let tenants = try Self.manager(directory)
        let runners = try await withThrowingTaskGroup(of: DefaultRunner.self) { group in
            for _ in 0..<16 { group.addTask { try await tenants.runner(for: "acme") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(runners.count == 16)
        #expect(runners.allSatisfy { $0 === runners[0] })
        #expect(tenants.manager.openTenants == ["acme"])
        await tenants.manager.shutdown()
    }

    @Test("executions of one tenant are invisible to another; three tenants run at once")
    func isolation() async throws {
        let directory = try TemporaryDirectory("tenants-isolation")
        let tenants = try Self.manager(directory)
        let names = ["acme", "globex", "initech"]
        let results = try await withThrowingTaskGroup(of: (String, ExecutionResult).self) { group in
            for name in names {
                group.addTask { (name, try await tenants.manager.executeForTenant(name, "stamp")) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for name in names {
            let result = try #require(results[name])
            #expect(result.status == .completed)
            #expect(result.tenant == name)
            #expect(result.finalContext?["tenant"] == .string(name))
            for other in names where other != name {
                let runner = try await tenants.runner(for: other)
                await #expect(throws: CloacinaError.self) { try await runner.executionStatus(result.executionID) }
                #expect(try await runner.listExecutions().map(\.executionID) == [results[other]!.executionID])
            }
        }
        #expect(try tenants.listTenants() == names)
        await tenants.manager.shutdown()
    }

    @Test("metrics count a tenant's executions by status and average their durations")
    func metrics() async throws {
        let directory = try TemporaryDirectory("tenants-metrics")
        let tenants = try Self.manager(directory)
        _ = try await tenants.manager.executeForTenant("acme", "stamp")
        _ = try await tenants.manager.executeForTenant("acme", "stamp")
        _ = try await tenants.manager.executeForTenant("acme", "flaky")
        let metrics = try await tenants.manager.tenantMetrics("acme")
        #expect(metrics.totalExecutions == 3)
        #expect(metrics.activeExecutions == 0)
        #expect(metrics.executionsByStatus == [.completed: 2, .failed: 1])
        #expect(metrics.averageExecutionTime != nil)
        let empty = try await tenants.manager.tenantMetrics("globex")
        #expect(empty.totalExecutions == 0 && empty.averageExecutionTime == nil)
        await tenants.manager.shutdown()
    }

    @Test(
        "invalid tenant ids are refused before any file is made",
        arguments: ["", "../etc", "a/b", "-rf", "a b", "a;b", "a\"b", "é", String(repeating: "t", count: 65), ".db"]
    )
    func invalidIDs(_ tenant: String) async throws {
        let directory = try TemporaryDirectory("tenants-invalid")
        let tenants = try Self.manager(directory)
        await #expect(throws: CloacinaError.self) { try await tenants.runner(for: tenant) }
        await #expect(throws: CloacinaError.self) { try await tenants.deleteTenant(tenant) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("tenants")).isEmpty)
        await tenants.manager.shutdown()
    }

    @Test("deleting a tenant removes its file and its executions; the same id can be used again")
    func deleteAndRecreate() async throws {
        let directory = try TemporaryDirectory("tenants-delete")
        let tenants = try Self.manager(directory)
        let first = try await tenants.manager.executeForTenant("acme", "stamp")
        _ = try await tenants.manager.executeForTenant("globex", "stamp")
        try await tenants.deleteTenant("acme")
        #expect(try tenants.listTenants() == ["globex"])
        #expect(!FileManager.default.fileExists(atPath: directory.file("tenants/acme.db")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("tenants/acme.db-wal")))
        do {
            try await tenants.deleteTenant("acme")
            Issue.record("deleting a missing tenant succeeded")
        } catch {
            #expect(error.code == .notFound)
        }
        let runner = try await tenants.runner(for: "acme")
        #expect(try await runner.listExecutions().isEmpty)
        await #expect(throws: CloacinaError.self) { try await runner.executionStatus(first.executionID) }
        #expect(try await tenants.manager.executeForTenant("acme", "stamp").status == .completed)
        #expect(try tenants.listTenants() == ["acme", "globex"])
        await tenants.manager.shutdown()
    }

    @Test("a shut-down manager opens no new tenants")
    func shutdownRefuses() async throws {
        let directory = try TemporaryDirectory("tenants-shutdown")
        let tenants = try Self.manager(directory)
        _ = try await tenants.runner(for: "acme")
        await tenants.manager.shutdown()
        do {
            _ = try await tenants.runner(for: "globex")
            Issue.record("a shut-down manager opened a tenant")
        } catch {
            #expect(error.code == .shuttingDown)
        }
    }
}
