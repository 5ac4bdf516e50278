import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

@Suite("cloacina tenant")
struct TenantCommandTests {
    static var postgresURL: String? { TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") }

    static func json(_ result: CommandResult) throws -> JSONValue {
        do {
            return try JSONValue(parsing: Array(result.standardOutput.utf8))
        } catch {
            // Say what the command said instead.
            throw DaemonProcess.DaemonError(
                message:
                    "not JSON (\(error)); exit \(result.exitStatus.map(String.init) ?? "-"), signal \(result.signal.map(String.init) ?? "-"), stderr: \(result.standardError)"
            )
        }
    }

    @Test("SQLite: create, list and remove tenant files; usage errors exit 2, a missing tenant 1")
    func sqlite() throws {
        let host = try RunCommandTests.Host("cli-tenant-files")
        let tenant = { (arguments: [String]) in
            try runCommand(TestEnvironment.cloacinaExecutable, ["tenant"] + arguments + ["--data-dir", host.data])
        }
        let created = try tenant(["create", "acme", "--output", "json"])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        #expect(try Self.json(created)["tenant"] == "acme")
        #expect(FileManager.default.fileExists(atPath: "\(host.data)/acme.db"))
        #expect(try tenant(["create", "acme"]).exitStatus == 1)
        #expect(try tenant(["create", "globex"]).exitStatus == 0)
        #expect(try Self.json(try tenant(["list", "--output", "json"])) == [["tenant": "acme"], ["tenant": "globex"]])
        #expect(try tenant(["list"]).standardOutput == "acme\nglobex\n")

        // Runs use the tenant's file.
        let run = try host.cloacina(["run", "fingerprint", "--tenant", "acme", "--output", "json"])
        #expect(run.exitStatus == 0, "\(run.standardError)")

        #expect(try tenant(["remove", "acme"]).exitStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(host.data)/acme.db"))
        let again = try tenant(["remove", "acme"])
        #expect(again.exitStatus == 1)
        #expect(again.standardError.contains("no tenant"))
        #expect(try Self.json(try tenant(["list", "--output", "json"])) == [["tenant": "globex"]])

        for bad in [["create", "../x"], ["create", "a b"], ["create", "ok", "--username", "u"], ["remove", "-x"]] {
            let result = try tenant(bad)
            #expect(result.exitStatus == 2, "\(bad): \(result.standardError)")
        }
    }

    @Test(
        "PostgreSQL: tenants made by the CLI run workflows as their own roles, isolated; removal is real",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func postgres() throws {
        let admin = try #require(Self.postgresURL)
        let host = try RunCommandTests.Host("cli-tenant-pg")
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let (acme, globex) = ("cli_acme_\(suffix)", "cli_globex_\(suffix)")
        let tenant = { (arguments: [String]) in
            try runCommand(TestEnvironment.cloacinaExecutable, ["tenant"] + arguments + ["--database", admin])
        }
        defer {
            _ = try? tenant(["remove", acme])
            _ = try? tenant(["remove", globex])
        }
        let password = #"p@ss w:o/r"d'%&?#\"#
        let acmeCreated = try tenant(["create", acme, "--output", "json"])
        #expect(acmeCreated.exitStatus == 0, "\(acmeCreated.standardError)")
        let globexCreated = try tenant(["create", globex, "--password", password, "--output", "json"])
        #expect(globexCreated.exitStatus == 0, "\(globexCreated.standardError)")
        let acmeCredentials = try Self.json(acmeCreated)
        let globexCredentials = try Self.json(globexCreated)
        #expect(acmeCredentials["username"] == .string(acme))
        #expect(acmeCredentials["schema_name"] == .string(acme))
        #expect((acmeCredentials["password"]?.stringValue?.count ?? 0) >= 32)
        #expect(globexCredentials["password"] == .string(password))
        let acmeURL = try #require(acmeCredentials["connection_string"]?.stringValue)
        let globexURL = try #require(globexCredentials["connection_string"]?.stringValue)
        #expect(!acmeURL.contains(admin))

        // Each tenant runs as its own role, in its own schema.
        let run = try host.cloacina([
            "run", "word_stats", "--tenant", acme, "--database", acmeURL, "--context", #"{"text": "a b"}"#,
            "--output", "json",
        ])
        #expect(run.exitStatus == 0, "\(run.standardError)")
        let id = try #require(try Self.json(run)["execution_id"]?.stringValue)
        let other = try host.cloacina(["run", "fingerprint", "--tenant", globex, "--database", globexURL])
        #expect(other.exitStatus == 0, "\(other.standardError)")
        let listed = try host.cloacina([
            "executions", "list", "--tenant", acme, "--database", acmeURL, "--output", "json",
        ])
        #expect(try Self.json(listed).arrayValue?.map { $0["execution_id"] } == [.string(id)])
        let hidden = try host.cloacina(["executions", "show", id, "--tenant", globex, "--database", globexURL])
        #expect(hidden.exitStatus == 2)
        // A role cannot reach into another tenant's schema, even by naming it.
        let crossed = try host.cloacina(["executions", "list", "--tenant", globex, "--database", acmeURL])
        #expect(crossed.exitStatus != 0)
        #expect(!crossed.standardError.contains(acmeCredentials["password"]?.stringValue ?? "?"))

        let list = try Self.json(try tenant(["list", "--output", "json"])).arrayValue ?? []
        #expect(list.contains { $0["tenant"] == .string(acme) && $0["role"] == .string(acme) })
        #expect(list.contains { $0["tenant"] == .string(globex) && $0["role"] == .string(globex) })
        #expect(
            list.filter { [.string(acme), .string(globex)].contains($0["tenant"]) }
                .allSatisfy { $0["created_at"]?.intValue != nil }
        )

        let removed = try tenant(["remove", acme, "--output", "json"])
        #expect(removed.exitStatus == 0, "\(removed.standardError)")
        let what = try Self.json(removed)
        #expect(what["removed"] == .string(acme) && what["schema"] == .string(acme) && what["role"] == .string(acme))
        let gone = try tenant(["remove", acme])
        #expect(gone.exitStatus == 1)
        let after = try Self.json(try tenant(["list", "--output", "json"])).arrayValue ?? []
        #expect(!after.contains { $0["tenant"] == .string(acme) })
        let refused = try host.cloacina(["executions", "list", "--tenant", acme, "--database", acmeURL])
        #expect(refused.exitStatus != 0)

        for bad in [
            ["create", "Upper"], ["create", "semi;colon"], ["create", "public"],
            ["create", String(repeating: "a", count: 64)],
        ] {
            let result = try tenant(bad)
            #expect(result.exitStatus == 2, "\(bad): \(result.standardError)")
        }
    }

    @Test(
        "PostgreSQL: a tenant's recorded role is listed and removed with it; another tenant cannot take it",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func postgresRoles() throws {
        let admin = try #require(Self.postgresURL)
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let (globex, globexApp, initech) = ("cli_globex_\(suffix)", "cli_globex_\(suffix)_app", "cli_initech_\(suffix)")
        let tenant = { (arguments: [String]) in
            try runCommand(TestEnvironment.cloacinaExecutable, ["tenant"] + arguments + ["--database", admin])
        }
        defer {
            _ = try? tenant(["remove", globex])
            _ = try? tenant(["remove", initech])
        }
        let created = try tenant(["create", globex, "--username", globexApp, "--output", "json"])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        let connection = try #require(try Self.json(created)["connection_string"]?.stringValue)

        let taken = try tenant(["create", initech, "--username", globexApp])
        #expect(taken.exitStatus == 1)
        #expect(
            taken.standardError.contains("role \"\(globexApp)\" belongs to tenant \"\(globex)\""),
            "\(taken.standardError)"
        )
        let listed = try tenant(["list"])
        #expect(
            listed.standardOutput.split(separator: "\n").contains {
                $0.hasPrefix(globex) && $0.hasSuffix("  \(globexApp)")
            }
        )
        #expect(!listed.standardOutput.contains(initech))

        let wrong = try tenant(["remove", globex, "--username", globex])
        #expect(wrong.exitStatus == 2)
        #expect(wrong.standardError.contains("is \"\(globexApp)\""), "\(wrong.standardError)")
        let removed = try tenant(["remove", globex])
        #expect(removed.exitStatus == 0, "\(removed.standardError)")
        #expect(removed.standardOutput == "removed tenant \(globex): schema \"\(globex)\" and role \"\(globexApp)\"\n")
        // The role is gone: it cannot log in.
        let login = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["executions", "list", "--tenant", globex, "--database", connection]
        )
        #expect(login.exitStatus != 0)
        #expect(login.standardError.contains("password authentication failed"), "\(login.standardError)")
    }

    @Test("settings come from flags, then the environment; bad values are usage errors")
    func settings() throws {
        let host = try RunCommandTests.Host("cli-settings")
        let cloacina = { (arguments: [String], environment: [String: String]) in
            try runCommand(
                TestEnvironment.cloacinaExecutable,
                ["run", "fingerprint", "--workflows", host.drop, "--data-dir", host.data] + arguments,
                environment: environment
            )
        }
        let badPool = try cloacina([], ["DB_POOL_SIZE": "many"])
        #expect(badPool.exitStatus == 2)
        #expect(badPool.standardError.contains("DB_POOL_SIZE"))
        #expect(try cloacina(["--db-pool-size", "2"], ["DB_POOL_SIZE": "many"]).exitStatus == 0)
        #expect(try cloacina([], ["MAX_CONCURRENT_TASKS": "0"]).exitStatus == 2)
        #expect(try cloacina([], ["TASK_TIMEOUT_SECONDS": "-1"]).exitStatus == 2)
        #expect(try cloacina([], ["TENANT_ID": "from_env"]).exitStatus == 2, "an unknown tenant")
        let tenant = try cloacina(["--output", "json", "--create-tenant"], ["TENANT_ID": "from_env"])
        #expect(tenant.exitStatus == 0)
        #expect(try Self.json(tenant)["tenant"] == "from_env")
        #expect(FileManager.default.fileExists(atPath: "\(host.data)/from_env.db"))
    }
}
