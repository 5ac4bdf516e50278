import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Passwords on the command line and in libpq's messages: warned about, and never printed by any command.
@Suite("cloacina keeps database passwords out of argv warnings and error messages")
struct CLISecretsTests {
    /// URLs whose connection fails at once, each with the password `Sekr1t` (and, malformed, `tail`).
    static let badURLs = [
        "postgresql://acme:Sekr1t@tail@nohost.invalid:1/db",
        "postgresql://acme:Sekr1t/tail@localhost:1/db",
        "postgresql://acme:Sekr1t@[::1:5432/db",
        "postgresql://acme:Sekr1t%zztail@h/db",
        "postgresql://acme:Sekr1t:tail@/db?host=/nonexistent-cloacina-socket-dir&port=1",
    ]

    static func expectNoSecret(_ result: CommandResult, _ what: String) {
        for fragment in ["Sekr1t", "tail", "zz"] {
            #expect(!result.standardError.contains(fragment), "\(what): \(result.standardError)")
            #expect(!result.standardOutput.contains(fragment), "\(what): \(result.standardOutput)")
        }
    }

    @Test(
        "run, executions, serve and tenant with a bad URL holding a password: a warning, errors without it",
        arguments: badURLs
    )
    func errorsAreRedacted(_ url: String) throws {
        let host = try RunCommandTests.Host("cli-secrets")
        let commands: [[String]] = [
            ["run", "fingerprint", "--workflows", host.drop, "--data-dir", host.data],
            ["executions", "list", "--data-dir", host.data],
            ["executions", "show", "00000000-0000-0000-0000-000000000000", "--data-dir", host.data],
            ["serve", "--workflows", host.drop, "--data-dir", host.data, "--no-http"],
            ["tenant", "list"],
        ]
        let file = host.directory.file("database-url")
        try "\(url)\n".write(toFile: file, atomically: true, encoding: .utf8)
        for command in commands {
            let argv = try runCommand(TestEnvironment.cloacinaExecutable, command + ["--database", url])
            #expect(argv.exitStatus != 0 && argv.exitStatus != nil, "\(command): \(argv.standardError)")
            #expect(argv.standardError.contains("warning: the --database URL contains a password"), "\(command)")
            Self.expectNoSecret(argv, "\(command) --database")

            let fromFile = try runCommand(TestEnvironment.cloacinaExecutable, command + ["--database-file", file])
            #expect(fromFile.exitStatus != 0 && fromFile.exitStatus != nil, "\(command): \(fromFile.standardError)")
            #expect(!fromFile.standardError.contains("warning:"), "\(command): \(fromFile.standardError)")
            Self.expectNoSecret(fromFile, "\(command) --database-file")

            let fromEnvironment = try runCommand(
                TestEnvironment.cloacinaExecutable,
                command,
                environment: ["DATABASE_URL": url]
            )
            #expect(fromEnvironment.exitStatus != 0, "\(command): \(fromEnvironment.standardError)")
            Self.expectNoSecret(fromEnvironment, "\(command) DATABASE_URL")
        }
    }

    @Test(
        "PostgreSQL: a URL without a password works with PGPASSWORD, PGPASSFILE or --database-file, and fails without",
        .enabled(if: TenantCommandTests.postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func passwordSources() throws {
        let admin = try #require(TenantCommandTests.postgresURL)
        let host = try RunCommandTests.Host("cli-pgpass")
        let schema = "cli_pass_\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let adminFile = host.directory.file("admin-url")
        try admin.write(toFile: adminFile, atomically: true, encoding: .utf8)
        let tenant = { (arguments: [String]) in
            try runCommand(TestEnvironment.cloacinaExecutable, ["tenant"] + arguments + ["--database-file", adminFile])
        }
        defer { _ = try? tenant(["remove", schema]) }
        let created = try tenant(["create", schema, "--output", "json"])
        #expect(created.exitStatus == 0, "\(created.standardError)")
        #expect(!created.standardError.contains("warning:"))
        let credentials = try JSONValue(parsing: created.standardOutput)
        let password = try #require(credentials["password"]?.stringValue)
        let full = try #require(credentials["connection_string"]?.stringValue)
        // The same URL without its password: postgresql://user@…
        let scheme = try #require(full.range(of: "://"))
        let at = try #require(full.range(of: "@", options: .backwards))
        let user = full[scheme.upperBound..<at.lowerBound].prefix { $0 != ":" }
        let bare = "postgresql://\(user)@" + full[at.upperBound...]
        #expect(!bare.contains(password))

        let run = { (database: [String], environment: [String: String]) in
            try host.cloacina(["run", "fingerprint", "--tenant", schema, "--output", "json"] + database, environment)
        }
        let withoutPassword = try run(["--database", bare], ["PGPASSFILE": "/nonexistent"])
        #expect(withoutPassword.exitStatus != 0)
        #expect(!withoutPassword.standardError.contains("warning:"))

        let environment = try run(["--database", bare], ["PGPASSWORD": password])
        #expect(environment.exitStatus == 0, "\(environment.standardError)")
        #expect(!environment.standardError.contains("warning:"))

        let passfile = host.directory.file("pgpass")
        try "*:*:*:\(user):\(password.replacingOccurrences(of: ":", with: "\\:"))\n".write(
            toFile: passfile,
            atomically: true,
            encoding: .utf8
        )
        chmod(passfile, 0o600)
        let pgpass = try run(["--database", bare], ["PGPASSFILE": passfile])
        #expect(pgpass.exitStatus == 0, "\(pgpass.standardError)")

        let urlFile = host.directory.file("tenant-url")
        try full.write(toFile: urlFile, atomically: true, encoding: .utf8)
        let fromFile = try run(["--database-file", urlFile], [:])
        #expect(fromFile.exitStatus == 0, "\(fromFile.standardError)")
        #expect(!fromFile.standardError.contains("warning:"))

        let fromEnvironment = try run([], ["DATABASE_URL": full])
        #expect(fromEnvironment.exitStatus == 0, "\(fromEnvironment.standardError)")

        let inArgv = try run(["--database", full], [:])
        #expect(inArgv.exitStatus == 0, "\(inArgv.standardError)")
        #expect(inArgv.standardError.contains("warning: the --database URL contains a password"))
        #expect(!inArgv.standardError.contains(password))

        let both = try run(["--database", bare, "--database-file", urlFile], [:])
        #expect(both.exitStatus == 2)
        #expect(both.standardError.contains("not both"))
    }
}
