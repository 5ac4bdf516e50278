import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// The flags that share a host's task slots between tenants: `--tenant-max-concurrent-tasks` (and its environment
/// variable) on `run` and `serve`, `--tenant-limit` and `--tenant-weight` on `serve`.
@Suite("Tenant share flags")
struct TenantShareCommandTests {
    @Test("bad values are usage errors naming the flag, and nothing is created")
    func usage() throws {
        let directory = try TemporaryDirectory("cli-shares")
        let (drop, data) = (directory.file("workflows"), directory.file("data"))
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
        _ = try CorpusPackage().build(in: drop, fileName: "libcorpus.so")
        let cloacina = { (arguments: [String], environment: [String: String]) in
            try runCommand(TestEnvironment.cloacinaExecutable, arguments, environment: environment)
        }
        let run = ["run", "corpus_flow", "--workflows", drop, "--data-dir", data]
        let serve = ["serve", "--workflows", drop, "--data-dir", data, "--no-http", "--tenants", "default"]
        let refused: [(arguments: [String], environment: [String: String], names: String)] = [
            (run + ["--tenant-max-concurrent-tasks", "0"], [:], "--tenant-max-concurrent-tasks"),
            (run, ["CLOACINA_TENANT_MAX_CONCURRENT_TASKS": "lots"], "CLOACINA_TENANT_MAX_CONCURRENT_TASKS"),
            (serve + ["--tenant-max-concurrent-tasks", "-1"], [:], "--tenant-max-concurrent-tasks"),
            (serve, ["CLOACINA_TENANT_MAX_CONCURRENT_TASKS": "0"], "CLOACINA_TENANT_MAX_CONCURRENT_TASKS"),
            (serve + ["--tenant-limit", "default"], [:], "--tenant-limit"),
            (serve + ["--tenant-limit", "default=0"], [:], "--tenant-limit"),
            (serve + ["--tenant-limit", "=2"], [:], "--tenant-limit"),
            (serve + ["--tenant-limit", "default=2", "--tenant-limit", "default=3"], [:], "--tenant-limit"),
            (serve + ["--tenant-weight", "default=two"], [:], "--tenant-weight"),
            (serve + ["--tenant-limit", "a/b=2"], [:], "--tenant-limit a/b=2"),
            (serve + ["--tenant-weight", "acme=2"], [:], "this host does not serve tenant acme"),
        ]
        for (arguments, environment, names) in refused {
            let result = try cloacina(arguments, environment)
            #expect(result.exitStatus == 2, "\(arguments) \(environment): \(result.standardError)")
            #expect(result.standardError.contains(names), "\(arguments) \(environment): \(result.standardError)")
        }
        // Refused before any tenant was created (`default` is created on first use).
        #expect(!FileManager.default.fileExists(atPath: "\(data)/default.db"))
        let limited = try cloacina(run + ["--tenant-max-concurrent-tasks", "1", "--output", "json"], [:])
        #expect(limited.exitStatus == 0, "\(limited.standardError)")
        #expect(try JSONValue(parsing: Array(limited.standardOutput.utf8))["status"] == "Completed")
    }

    @Test("serve: a tenant at --tenant-limit leaves the other slots free; another tenant's execution ends meanwhile")
    func serveLimit() throws {
        let fixture = try ServeCommandTests.Fixture("serve-shares")
        try fixture.build("v1", version: "1.0.0", holding: "acme")
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: [
                "--tenants", "acme,globex", "--max-concurrent-tasks", "2", "--tenant-limit", "acme=1",
                "--tenant-weight", "globex=2",
            ]
        )
        let held = try (0..<3).map { _ in try ServeCommandTests.submit(daemon) }
        fixture.awaitStarted(1)
        // acme's other two executions wait at its limit of one; without it they would hold both slots and globex
        // would wait for acme.
        let quick = try ServeCommandTests.submit(daemon, tenant: "globex")
        #expect(try ServeCommandTests.result(daemon, quick, tenant: "globex")["status"] == "Completed")
        fixture.release(3)
        for id in held { #expect(try ServeCommandTests.result(daemon, id)["status"] == "Completed") }
        fixture.awaitStarted(2)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
