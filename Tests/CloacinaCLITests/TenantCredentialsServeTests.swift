import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `cloacina serve --tenant-credentials DIR`: each PostgreSQL tenant served as its own role (made by `cloacina
/// tenant create`, with its own password), never with the admin URL; refused credentials, reloads, and no secret
/// in any output or child process.
@Suite("cloacina serve with tenants' own credentials", .serialized)
struct TenantCredentialsServeTests {
    static var postgresURL: String? { TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") }

    /// A tenant made by `cloacina tenant create`: its name (schema and role), connection string and password.
    struct Tenant {
        var name: String
        var url: String
        var password: String
    }

    /// Two tenants with their own roles, a drop directory of the example workflows, a data directory and a
    /// private credentials directory; the tenants are removed (with the admin URL) at the end.
    final class Fixture {
        let host: RunCommandTests.Host
        let admin: String
        let a: Tenant
        let b: Tenant
        var credentials: String { host.directory.file("credentials") }

        init(_ label: String) throws {
            let admin = try #require(TenantCredentialsServeTests.postgresURL)
            self.admin = admin
            host = try RunCommandTests.Host(label)
            #expect(mkdir(host.directory.file("credentials"), 0o700) == 0)
            let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            a = try Self.create("cred_a_\(suffix)", admin: admin)
            b = try Self.create("cred_b_\(suffix)", admin: admin)
        }

        /// `cloacina tenant create name --output json`, with the admin URL.
        static func create(_ name: String, admin: String) throws -> Tenant {
            let created = try runCommand(
                TestEnvironment.cloacinaExecutable,
                ["tenant", "create", name, "--database", admin, "--output", "json"]
            )
            try #require(created.exitStatus == 0, "\(created.standardError)")
            let json = try JSONValue(parsing: Array(created.standardOutput.utf8))
            return Tenant(
                name: name,
                url: try #require(json["connection_string"]?.stringValue),
                password: try #require(json["password"]?.stringValue)
            )
        }

        deinit {
            for tenant in [a.name, b.name] {
                _ = try? runCommand(
                    TestEnvironment.cloacinaExecutable,
                    ["tenant", "remove", tenant, "--database", admin]
                )
            }
        }

        /// Writes `connectionString` as `tenant`'s credentials file with `mode`, the way an operator should: under
        /// a hidden name, then renamed into place.
        func write(_ connectionString: String, for tenant: Tenant, mode: mode_t = 0o600) throws {
            let hidden = "\(credentials)/.\(tenant.name).tmp"
            try Data("\(connectionString)\n".utf8).write(to: URL(fileURLWithPath: hidden))
            #expect(chmod(hidden, mode) == 0)
            #expect(rename(hidden, "\(credentials)/\(tenant.name)") == 0)
        }

        func serve(_ extra: [String] = [], environment: [String: String] = [:]) throws -> DaemonProcess {
            try DaemonProcess(
                drop: host.drop,
                data: host.data,
                arguments: ["--tenant-credentials", credentials] + extra,
                environment: environment
            )
        }

        /// No password of either tenant in `text`.
        func expectNoPassword(_ text: String, _ comment: String) {
            #expect(!text.contains(a.password), "\(comment) shows tenant A's password")
            #expect(!text.contains(b.password), "\(comment) shows tenant B's password")
        }
    }

    /// Runs `word_stats` for `tenant` and waits for its end; the HTTP status and the result.
    static func run(_ daemon: DaemonProcess, _ tenant: Tenant) throws -> (Int, JSONValue) {
        try daemon.request(
            "POST",
            "/tenants/\(tenant.name)/workflows?wait=true",
            body: #"{"workflow_name": "word_stats", "context": {"text": "to be or not"}}"#
        )
    }

    static func stop(_ daemon: DaemonProcess) {
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("serve refuses tenant credentials beside --database or --create-tenant, and a directory it cannot read")
    func usage() throws {
        let host = try RunCommandTests.Host("creds-usage")
        let credentials = host.directory.file("credentials")
        #expect(mkdir(credentials, 0o700) == 0)
        let serve = { (arguments: [String]) in
            try runCommand(
                TestEnvironment.cloacinaExecutable,
                ["serve", "--workflows", host.drop, "--data-dir", host.data, "--no-http"] + arguments
            )
        }
        let cases: [([String], String)] = [
            (
                ["--tenant-credentials", credentials, "--database", "postgresql://admin@db/app"],
                "give --tenant-credentials or --database, not both"
            ),
            (["--tenant-credentials", credentials, "--create-tenant"], "--create-tenant cannot be used"),
            (
                ["--tenant-credentials", host.directory.file("missing")],
                "cannot read the tenant credentials directory \(host.directory.file("missing"))"
            ),
            (["--tenant-credentials", credentials, "--tenants", "Acme"], "upper-case letters are not allowed"),
        ]
        for (arguments, message) in cases {
            let result = try serve(arguments)
            #expect(result.exitStatus == 2, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
    }

    @Test(
        "PostgreSQL: only tenants with a credentials file are served, as their own role; others are unknown",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func onlyTenantsWithCredentials() throws {
        let fixture = try Fixture("creds-serve")
        try fixture.write(fixture.a.url, for: fixture.a)
        let daemon = try fixture.serve()
        let (status, result) = try Self.run(daemon, fixture.a)
        #expect(status == 200, "\(result)")
        #expect(result["status"] == "Completed", "\(result)")
        #expect(result["tenant"] == .string(fixture.a.name))

        let (missing, error) = try daemon.request("GET", "/tenants/\(fixture.b.name)/executions")
        #expect(missing == 404, "\(error)")
        #expect(error["error"] == .string("unknown tenant \"\(fixture.b.name)\""))
        let (_, tenants) = try daemon.request("GET", "/tenants")
        #expect(tenants["tenants"]?.arrayValue?.compactMap { $0["tenant"]?.stringValue } == [fixture.a.name])
        Self.stop(daemon)
        fixture.expectNoPassword(daemon.logText, "serve's log")
        #expect(daemon.logText.contains("each tenant as its own role"), "\(daemon.logText)")
    }

    @Test(
        "PostgreSQL: a file holding another tenant's connection string is refused at open; nothing of that tenant is read",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func anotherTenantsCredentials() throws {
        let fixture = try Fixture("creds-crossed")
        let (a, b) = (fixture.a, fixture.b)
        // B has an execution, made as B's own role.
        let own = fixture.host.directory.file("b.url")
        try Data(b.url.utf8).write(to: URL(fileURLWithPath: own))
        let made = try fixture.host.cloacina([
            "run", "fingerprint", "--tenant", b.name, "--database-file", own, "--output", "json",
        ])
        #expect(made.exitStatus == 0, "\(made.standardError)")
        let id = try #require(try JSONValue(parsing: Array(made.standardOutput.utf8))["execution_id"]?.stringValue)

        try fixture.write(a.url, for: a)
        try fixture.write(a.url, for: b)
        let daemon = try fixture.serve()
        #expect(try Self.run(daemon, a).0 == 200)
        let (status, refused) = try daemon.request("GET", "/tenants/\(b.name)/executions/\(id)")
        #expect(status == 503, "\(refused)")
        #expect(refused["error"]?.stringValue?.contains("tenant \"\(b.name)\" is out of service") == true)
        #expect(
            daemon.waitForLog("permission denied: role \"\(a.name)\" may not use schema \"\(b.name)\""),
            "\(daemon.logText)"
        )
        // A's role cannot read B's tables at all, even when it names them itself.
        let crossed = try fixture.host.cloacina([
            "executions", "show", id, "--tenant", b.name, "--database", a.url,
        ])
        #expect(crossed.exitStatus != 0)
        #expect(crossed.standardError.contains("permission denied"), "\(crossed.standardError)")
        fixture.expectNoPassword(crossed.standardError + crossed.standardOutput, "the crossed read")

        // B's own credentials, once in place, serve B with its data intact.
        try fixture.write(b.url, for: b)
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        let (found, execution) = try daemon.request("GET", "/tenants/\(b.name)/executions/\(id)")
        #expect(found == 200, "\(execution)")
        #expect(execution["status"] == "Completed")
        Self.stop(daemon)
        fixture.expectNoPassword(daemon.logText, "serve's log")
    }

    @Test(
        "PostgreSQL: a credentials file readable by others is refused, naming the file and its mode, never its password",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func openFileRefused() throws {
        let fixture = try Fixture("creds-mode")
        try fixture.write(fixture.b.url, for: fixture.b, mode: 0o644)
        let path = "\(fixture.credentials)/\(fixture.b.name)"
        // Its only tenant refused, the host does not start.
        let alone = try runCommand(
            TestEnvironment.cloacinaExecutable,
            [
                "serve", "--workflows", fixture.host.drop, "--data-dir", fixture.host.data, "--no-http",
                "--tenant-credentials", fixture.credentials, "--log-level", "info",
            ]
        )
        #expect(alone.exitStatus == 1, "\(alone.standardError)")
        #expect(
            alone.standardError.contains("the tenant credentials file \(path) has mode 0644"),
            "\(alone.standardError)"
        )
        #expect(alone.standardError.contains("none of the tenants could be opened (\(fixture.b.name))"))
        fixture.expectNoPassword(alone.standardOutput + alone.standardError, "serve's output")

        // Beside a good one, it is out of service alone, until its mode is fixed.
        try fixture.write(fixture.a.url, for: fixture.a)
        let daemon = try fixture.serve()
        #expect(try Self.run(daemon, fixture.a).0 == 200)
        #expect(try Self.run(daemon, fixture.b).0 == 503)
        #expect(chmod(path, 0o600) == 0)
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        #expect(try Self.run(daemon, fixture.b).0 == 200)
        Self.stop(daemon)
        #expect(daemon.logText.contains("has mode 0644"))
        fixture.expectNoPassword(daemon.logText, "serve's log")
    }

    @Test(
        "PostgreSQL: a reload serves a tenant whose file appeared, reopens one whose file changed, stops one whose file went",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func reload() throws {
        let fixture = try Fixture("creds-reload")
        let (a, b) = (fixture.a, fixture.b)
        try fixture.write(a.url, for: a)
        let daemon = try fixture.serve()
        #expect(try Self.run(daemon, b).0 == 404)

        try fixture.write(b.url, for: b)
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        let (status, result) = try Self.run(daemon, b)
        #expect(status == 200 && result["status"] == "Completed", "\(result)")

        // A's file now names B's role: A's runner is closed and reopened with it, which B's role may not.
        try fixture.write(b.url, for: a)
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        #expect(daemon.logText.contains("tenant credentials changed"), "\(daemon.logText)")
        #expect(try Self.run(daemon, a).0 == 503)
        #expect(daemon.logText.contains("permission denied: role \"\(b.name)\" may not use schema \"\(a.name)\""))

        #expect(unlink("\(fixture.credentials)/\(b.name)") == 0)
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        #expect(try Self.run(daemon, b).0 == 404)
        #expect(daemon.logText.contains("tenant credentials removed"))
        Self.stop(daemon)
        fixture.expectNoPassword(daemon.logText, "serve's log")
    }

    @Test(
        "PostgreSQL: credentials from the environment alone; worker processes get no credentials in argv or environment",
        .enabled(if: postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func workersGetNoCredentials() throws {
        let fixture = try Fixture("creds-workers")
        let dump = fixture.host.directory.file("worker-process")
        var package = CorpusPackage()
        package.name = "envprobe"
        package.workflows = [("envprobe", [.init("dump")])]
        package.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
        package.taskPrologue = """
            {
                const char *sources[] = {"/proc/self/environ", "/proc/self/cmdline"};
                int out = open("\(dump)", O_WRONLY | O_CREAT | O_APPEND, 0600);
                for (int i = 0; i < 2 && out >= 0; i++) {
                    int in = open(sources[i], O_RDONLY);
                    char buffer[4096];
                    ssize_t n;
                    while (in >= 0 && (n = read(in, buffer, sizeof buffer)) > 0) { (void)!write(out, buffer, (size_t)n); }
                    if (in >= 0) close(in);
                }
                if (out >= 0) close(out);
            }
            """
        try package.build(in: fixture.host.drop, fileName: "libenvprobe.so")
        let variable = "CLOACINA_TENANT_URL_\(fixture.a.name.uppercased())"
        let daemon = try DaemonProcess(
            drop: fixture.host.drop,
            data: fixture.host.data,
            arguments: ["--isolation", "process"],
            environment: [variable: fixture.a.url, "DATABASE_URL": "", "CLOACINA_DATABASE_URL": ""]
        )
        let (status, result) = try daemon.request(
            "POST",
            "/tenants/\(fixture.a.name)/workflows?wait=true",
            body: #"{"workflow_name": "envprobe"}"#
        )
        #expect(status == 200 && result["status"] == "Completed", "\(result)")
        let seen = try String(contentsOfFile: dump, encoding: .utf8)
        #expect(seen.contains("worker"), "the dump holds the worker's command line")
        fixture.expectNoPassword(seen, "a worker's environment or command line")
        #expect(!seen.contains("CLOACINA_TENANT_URL_"))
        let hostArguments = try String(contentsOfFile: "/proc/\(daemon.pid)/cmdline", encoding: .utf8)
        fixture.expectNoPassword(hostArguments, "serve's command line")
        Self.stop(daemon)
        fixture.expectNoPassword(daemon.logText, "serve's log")
    }
}
