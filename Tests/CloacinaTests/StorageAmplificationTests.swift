import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Testing

/// A large task output is stored once: not again in the final context, and no write-ahead log of its size is left.
@Suite("Storage amplification")
struct StorageAmplificationTests {
    static let size = 8 << 20

    static func files(_ directory: TemporaryDirectory) -> Int {
        ["tenant.db", "tenant.db-wal"].reduce(0) { total, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.file(name))
            return total + ((attributes?[.size] as? Int) ?? 0)
        }
    }

    @Test("an 8 MiB output costs the tenant's files less than twice its size, one execution after another")
    func largeOutputStoredOnce() async throws {
        let package = WorkflowPackage(name: "big", version: "1") {
            Workflow("big") {
                WorkflowTask("make") { ctx in ctx["blob"] = .string(String(repeating: "x", count: Self.size)) }
                WorkflowTask("pass", dependsOn: "make") { ctx in ctx["seen"] = .int(try ctx.string("blob").count) }
            }
        }
        let directory = try TemporaryDirectory("amplification")
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("tenant.db"))")
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.embeddedPackages = [package]
        let runner = try await DefaultRunner.Builder(configuration: configuration).build()
        let first = try await runner.execute("big")
        #expect(first.status == .completed)
        // One execution: its final context, the free pages of the output it replaced, a short log.
        #expect(Self.files(directory) < 5 * Self.size / 2, "\(Self.files(directory)) bytes after one execution")
        for _ in 0..<2 {
            let result = try await runner.execute("big")
            #expect(result.status == .completed)
            #expect(result.finalContext?["seen"] == .int(Self.size))
        }
        let newest = try #require(try await runner.listExecutions().first)
        let stored = try await runner.executionStatus(newest.executionID)
        #expect(stored.finalContext?["blob"]?.stringValue?.count == Self.size)
        await runner.shutdown()
        // Three executions: each final context once (3 × 8 MiB), plus one task output's worth of free pages reused
        // from run to run and the log's bounded remains; before, every output was stored twice and the log kept
        // the size of the largest transaction.
        #expect(Self.files(directory) < 5 * Self.size, "\(Self.files(directory)) bytes")
    }
}
