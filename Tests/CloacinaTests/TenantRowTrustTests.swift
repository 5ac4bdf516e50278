import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Testing

/// Rows a tenant's role can write are untrusted: a package digest that is not a digest never reaches the loader.
@Suite("Tenant-written rows")
struct TenantRowTrustTests {
    @Test("a package sha256 climbing out of the package cache is a corrupt row: refused, never loaded")
    func digestTraversal() async throws {
        let directory = try TemporaryDirectory("row-trust")
        let marker = directory.file("constructor-ran")
        var evil = CorpusPackage()
        evil.name = "evil"
        evil.extraDeclarations = """
            __attribute__((constructor)) static void evil(void) {
                FILE *f = fopen("\(marker)", "w"); if (f) fclose(f);
            }
            """
        try evil.build(in: directory.path, fileName: "evil.so")
        let package = WorkflowPackage(name: "plain", version: "1") {
            Workflow("plain") { WorkflowTask("only") { ctx in ctx["ran"] = true } }
        }
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("t.db"))")
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.embeddedPackages = [package]
        let first = try await DefaultRunner.Builder(configuration: configuration).build()
        let id = try await first.submit("plain", contextJSON: Array("{}".utf8))
        await first.shutdown()

        // As the tenant could: point the row's package at a file outside the cache.
        let update = try runCommand(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                    + "c.execute(\"UPDATE executions SET package_sha256='../evil' WHERE id=?\", (sys.argv[2],)); c.commit()",
                directory.file("t.db"), id,
            ]
        )
        try #require(update.exitStatus == 0, "\(update.standardError)")

        let second = try await DefaultRunner.Builder(configuration: configuration).build()
        let result = try await second.executionStatus(id)
        #expect(result.status == .failed)
        #expect(result.error?.contains("corrupt execution row") == true, "\(result.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: marker), "the file outside the cache was loaded")
        await second.shutdown()
    }
}
