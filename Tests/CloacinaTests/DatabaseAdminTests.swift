import Cloacina
import CloacinaPostgres
import CloacinaPostgresAdmin
import CloacinaSDK
import CloacinaStorage
import CloacinaTestSupport
import Foundation
import Testing

/// Names `DatabaseAdmin` must refuse, for schemas and roles alike.
let refusedTenantNames = [
    "a\"b", "a;drop role x", "has space", "Upper", "ALLCAPS", String(repeating: "a", count: 64), "public", "pg_x",
    "information_schema", "", "1abc", "a-b", "ünï",
]

/// `DatabaseAdmin` behaviour that needs no server: URLs and names are refused before any connection is made.
@Suite("DatabaseAdmin without a server")
struct DatabaseAdminOfflineTests {
    /// Nothing listens here.
    static let unreachable = "postgresql://admin:s3cr3t@/nowhere?host=/nonexistent-cloacina-socket-dir&port=1"

    @Test("URLs that are not PostgreSQL URLs libpq parses are refused, without showing their password")
    func badURLs() {
        let urls = [
            "sqlite:///tmp/x.db", "mysql://u:s3cr3t@h/db", "postgresql://u:s3%zzcr3t@h/db",
            "postgresql://u:s3cr3t@h/db?no_such_parameter=1", "postgresql://u:s3cr3t@[::1/db", "",
        ]
        for url in urls {
            do throws(CloacinaError) {
                _ = try DatabaseAdmin(databaseURL: url)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.code == .configuration)
                #expect(!error.message.contains("s3"), "\(error.message)")
            }
        }
    }

    @Test("refused names fail as invalid input before any connection is made", arguments: refusedTenantNames)
    func refusedNames(_ name: String) async throws {
        let admin = try DatabaseAdmin(databaseURL: Self.unreachable)
        defer { admin.close() }
        for config in [TenantConfig(schemaName: name, username: "ok"), TenantConfig(schemaName: "ok", username: name)] {
            await #expect { try await admin.createTenant(config) } throws: {
                ($0 as? CloacinaError)?.code == .invalidInput
            }
        }
        await #expect { try await admin.removeTenant(schemaName: name, username: "ok") } throws: {
            ($0 as? CloacinaError)?.code == .invalidInput
        }
        await #expect { try await admin.removeTenant(schemaName: "ok", username: name) } throws: {
            ($0 as? CloacinaError)?.code == .invalidInput
        }
    }

    @Test("reserved role names are refused as usernames")
    func reservedRoles() async throws {
        let admin = try DatabaseAdmin(databaseURL: Self.unreachable)
        defer { admin.close() }
        for name in ["postgres", "none", "current_user", "session_user"] {
            await #expect { try await admin.createTenant(TenantConfig(schemaName: "ok", username: name)) } throws: {
                ($0 as? CloacinaError)?.code == .invalidInput
            }
        }
    }

    @Test("an unreachable server is a storage error that shows neither password")
    func unreachable() async throws {
        let admin = try DatabaseAdmin(databaseURL: Self.unreachable)
        defer { admin.close() }
        let config = TenantConfig(schemaName: "acme", username: "acme_app", password: "tenant-pw-42")
        do throws(CloacinaError) {
            _ = try await admin.createTenant(config)
            Issue.record("a tenant was created on no server")
        } catch {
            #expect(error.code == .storage)
            #expect(error.message.contains("nonexistent-cloacina-socket-dir"))
            #expect(!error.message.contains("s3cr3t") && !error.message.contains("tenant-pw-42"))
        }
        admin.close()
        await #expect { try await admin.listTenants() } throws: { ($0 as? CloacinaError)?.code == .shuttingDown }
    }

    @Test("configurations and credentials print without their password")
    func printing() {
        let config = TenantConfig(schemaName: "acme", username: "acme_app", password: "hunter22")
        let credentials = TenantCredentials(
            username: "acme_app",
            password: "hunter22",
            schemaName: "acme",
            connectionString: "postgresql://acme_app:hunter22@db/x"
        )
        for text in ["\(config)", String(reflecting: config), "\(credentials)", String(reflecting: credentials)] {
            #expect(!text.contains("hunter22"), "\(text)")
        }
        #expect(credentials.redactedConnectionString == "postgresql://acme_app:***@db/x")
    }
}

/// `DatabaseAdmin` against the test server named by `CLOACINA_TEST_POSTGRES_URL`, whose roles other than the admin
/// must give their password. Every test uses tenant names of its own and removes its tenants.
@Suite("DatabaseAdmin", .enabled(if: StoreBackend.postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL"))
struct DatabaseAdminTests {
    let url = StoreBackend.postgresURL ?? ""

    static let package = WorkflowPackage(name: "admin", version: "1") {
        Workflow("chain") {
            WorkflowTask("first") { ctx in ctx["n"] = 1 }
            WorkflowTask("second", dependsOn: "first") { ctx in ctx["n"] = .int(try ctx.int("n") + 1) }
        }
    }

    @Test("two tenants' runners, each logged in as its own role, see only their own executions")
    func isolation() async throws {
        try await withTenant(url, "iso_a") { admin, a in
            try await withTenant(url, "iso_b") { _, b in
                var runners: [DefaultRunner] = []
                var results: [ExecutionResult] = []
                for creds in [a, b] {
                    let runner = try await DefaultRunner.withSchema(creds.connectionString, creds.schemaName)
                    try runner.register(Self.package)
                    runners.append(runner)
                    results.append(try await runner.execute("chain", context: ["who": .string(creds.username)]))
                }
                for (index, runner) in runners.enumerated() {
                    #expect(results[index].status == .completed && results[index].finalContext?["n"] == 2)
                    #expect(try await runner.listExecutions().map(\.executionID) == [results[index].executionID])
                    let other = results[1 - index].executionID
                    await #expect(throws: CloacinaError.self) { try await runner.executionStatus(other) }
                    await runner.shutdown()
                }
                let catalog = try PostgresConnection(url)
                let stored = try catalog.query("SELECT id FROM \"\(a.schemaName)\".executions").rows.map { $0.text(0) }
                #expect(stored == [results[0].executionID])
                #expect(try await admin.listTenants().contains(a.schemaName))
            }
        }
    }

    @Test("a tenant's role may use only its own tables: not another tenant's, not public, not the database")
    func privileges() async throws {
        try await withTenant(url, "priv_a") { _, a in
            try await withTenant(url, "priv_b") { _, b in
                let tenant = try PostgresConnection(a.connectionString)
                #expect(tenant.user == a.username)
                #expect(try tenant.query("SELECT count(*) FROM \"\(a.schemaName)\".executions").rows.count == 1)
                let other = "\"\(b.schemaName)\".executions"
                let denied = [
                    "SELECT * FROM \(other)", "INSERT INTO \(other) (id) VALUES ('x')",
                    "UPDATE \(other) SET status = 'Failed'", "DELETE FROM \(other)", "CREATE TABLE public.x (a int)",
                    "CREATE TABLE \"\(a.schemaName)\".x (a int)", "DROP TABLE \"\(a.schemaName)\".executions",
                    "CREATE SCHEMA \(StoreBackend.uniqueSchemaName("made_by_tenant"))",
                ]
                for sql in denied {
                    #expect(throws: PostgresError.self, "\(sql)") { try tenant.execute(sql) }
                    do throws(PostgresError) { try tenant.execute(sql) } catch { #expect(error.sqlState == "42501") }
                }
                let catalog = try PostgresConnection(url)
                let role = try #require(
                    try catalog.query(
                        """
                        SELECT rolcanlogin, rolsuper OR rolinherit OR rolcreaterole OR rolcreatedb OR rolreplication
                            OR rolbypassrls, rolpassword LIKE 'SCRAM-SHA-256$%',
                            has_database_privilege(rolname, current_database(), 'CREATE'),
                            has_schema_privilege(rolname, 'public', 'CREATE'),
                            has_schema_privilege(rolname, $2, 'CREATE'),
                            (SELECT nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                                FROM pg_namespace WHERE nspname = $2),
                            (SELECT count(*) FROM pg_default_acl d WHERE d.defaclrole = a.oid
                                OR d.defaclacl::text LIKE '%' || rolname || '=%')
                        FROM pg_authid a WHERE rolname = $1
                        """,
                        [.text(a.username), .text(a.schemaName)]
                    ).rows.first
                )
                #expect(role.bool(0) == true && role.bool(1) == false && role.bool(2) == true)
                #expect(role.bool(3) == false && role.bool(4) == false && role.bool(5) == false)
                #expect(role.bool(6) == true && role.int64(7) == 0)
            }
        }
    }

    @Test("refused names create nothing", arguments: refusedTenantNames)
    func refusedNamesCreateNothing(_ name: String) async throws {
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let (schema, role) = tenantNames("refused")
        for config in [
            TenantConfig(schemaName: name, username: role), TenantConfig(schemaName: schema, username: name),
        ] {
            await #expect { try await admin.createTenant(config) } throws: {
                ($0 as? CloacinaError)?.code == .invalidInput
            }
        }
        #expect(try catalogHas(url, schema: schema, role: role) == (false, false))
        if !["public", "information_schema"].contains(name) {
            #expect(try catalogHas(url, schema: name, role: name) == (false, false))
        }
    }

    @Test("passwords with quotes, backslashes, spaces and URL-special characters log in through the connection string")
    func specialPasswords() async throws {
        let passwords = [
            "p@ss:w/rd?#&%+'\"\\ x", "it's \"quoted\"", "back\\slash\\\\", "  spaces  ", "%41%zz", "ünï ✓",
        ]
        for password in passwords {
            try await withTenant(url, "pw", password: password) { _, creds in
                #expect(creds.password == password)
                let tenant = try PostgresConnection(creds.connectionString)
                #expect(try tenant.query("SELECT current_user").rows.first?.text(0) == creds.username)
                try expectNotLogged(password, role: creds.username)
            }
        }
        try await withTenant(url, "pw_runner", password: passwords[0]) { _, creds in
            let runner = try await DefaultRunner.withSchema(creds.connectionString, creds.schemaName)
            try runner.register(Self.package)
            #expect(try await runner.execute("chain").status == .completed)
            await runner.shutdown()
            // The server does check passwords.
            let wrong = PostgresTestURL.replacing(url, user: creds.username, password: "wrong")
            do throws(PostgresError) {
                _ = try PostgresConnection(wrong)
                Issue.record("a wrong password logged in")
            } catch {
                #expect(error.message.contains("password authentication failed"))
            }
        }
    }

    @Test("an empty password yields a generated one of at least 32 letters and digits that logs in")
    func generatedPassword() async throws {
        try await withTenant(url, "gen_a") { _, a in
            try await withTenant(url, "gen_b") { _, b in
                for creds in [a, b] {
                    #expect(creds.password.count >= 32)
                    #expect(creds.password.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
                    let tenant = try PostgresConnection(creds.connectionString)
                    #expect(try tenant.query("SELECT current_user").rows.first?.text(0) == creds.username)
                    try expectNotLogged(creds.password, role: creds.username)
                }
                #expect(a.password != b.password)
            }
        }
    }
}

extension DatabaseAdminTests {
    @Test("a removed tenant is gone, schema and role, and the same names can be used again; then it is not found")
    func removeAndRecreate() async throws {
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let (schema, role) = tenantNames("again")
        let first = try await admin.createTenant(TenantConfig(schemaName: schema, username: role, password: ""))
        let runner = try await DefaultRunner.withSchema(first.connectionString, schema)
        try runner.register(Self.package)
        #expect(try await runner.execute("chain").status == .completed)
        await runner.shutdown()
        #expect(try await admin.listTenants().contains(schema))

        try await admin.removeTenant(schemaName: schema, username: role)
        #expect(try catalogHas(url, schema: schema, role: role) == (false, false))
        #expect(try await !admin.listTenants().contains(schema))
        #expect(throws: PostgresError.self) { try PostgresConnection(first.connectionString) }

        let second = try await admin.createTenant(TenantConfig(schemaName: schema, username: role, password: ""))
        #expect(second.password != first.password)
        let again = try await DefaultRunner.withSchema(second.connectionString, schema)
        try again.register(Self.package)
        #expect(try await again.listExecutions().isEmpty)
        #expect(try await again.execute("chain").status == .completed)
        await again.shutdown()
        try await admin.removeTenant(schemaName: schema, username: role)
        await #expect { try await admin.removeTenant(schemaName: schema, username: role) } throws: {
            ($0 as? CloacinaError)?.code == .notFound
        }
    }

    @Test("removing a tenant whose runner and sessions are connected ends them and removes everything")
    func removeWhileConnected() async throws {
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let (schema, role) = tenantNames("connected")
        let creds = try await admin.createTenant(TenantConfig(schemaName: schema, username: role, password: ""))
        let runner = try await DefaultRunner.withSchema(creds.connectionString, schema)
        try runner.register(Self.package)
        #expect(try await runner.execute("chain").status == .completed)
        // A session idle inside a transaction, holding a lock the removal needs.
        let holder = try PostgresConnection(creds.connectionString)
        try holder.execute("BEGIN; LOCK TABLE \"\(schema)\".executions IN ROW EXCLUSIVE MODE")

        try await admin.removeTenant(schemaName: schema, username: role)
        #expect(try catalogHas(url, schema: schema, role: role) == (false, false))
        do throws(PostgresError) {
            try holder.execute("SELECT 1")
            Issue.record("the tenant's session survived its removal")
        } catch {
            #expect(error.isConnectionFailure)
        }
        await runner.shutdown(timeout: .zero)
    }

    @Test("removal removes whichever of schema and role exists, and refuses what is not a tenant's")
    func partialRemoval() async throws {
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let catalog = try PostgresConnection(url)
        let (schema, role) = tenantNames("partial")
        _ = try await admin.createTenant(TenantConfig(schemaName: schema, username: role))
        try catalog.execute("DROP SCHEMA \"\(schema)\" CASCADE")
        try await admin.removeTenant(schemaName: schema, username: role)
        #expect(try catalogHas(url, schema: schema, role: role) == (false, false))

        _ = try await admin.createTenant(TenantConfig(schemaName: schema, username: role))
        try catalog.execute("DROP OWNED BY \"\(role)\"; DROP ROLE \"\(role)\"")
        try await admin.removeTenant(schemaName: schema, username: role)
        #expect(try catalogHas(url, schema: schema, role: role) == (false, false))

        // A schema with objects but no Cloacina tables, and the admin's own role, are left alone.
        try catalog.execute("CREATE SCHEMA \"\(schema)\"; CREATE TABLE \"\(schema)\".precious (a int)")
        defer { _ = try? catalog.execute("DROP SCHEMA \"\(schema)\" CASCADE") }
        let admins = try #require(try catalog.query("SELECT current_user").rows.first?.text(0))
        for (schemaName, username) in [(schema, role), (StoreBackend.uniqueSchemaName("none"), admins)] {
            await #expect { try await admin.removeTenant(schemaName: schemaName, username: username) } throws: {
                ($0 as? CloacinaError)?.code == .invalidInput
            }
        }
        #expect(try catalogHas(url, schema: schema, role: admins) == (true, true))
    }

    @Test("an existing schema or role is a conflict, and the transaction leaves nothing behind")
    func conflicts() async throws {
        try await withTenant(url, "taken") { admin, taken in
            let (schema, role) = tenantNames("fresh")
            let secret = "conflict-pw-\(UUID())"
            let configs = [
                TenantConfig(schemaName: schema, username: taken.username, password: secret),
                TenantConfig(schemaName: taken.schemaName, username: role, password: secret),
            ]
            for config in configs {
                do throws(CloacinaError) {
                    _ = try await admin.createTenant(config)
                    Issue.record("\(config) was created over an existing tenant")
                } catch {
                    #expect(error.code == .conflict)
                    #expect(!error.message.contains(secret))
                }
            }
            let left = try catalogHas(url, schema: schema, role: role)
            #expect(left == (false, false))
        }
    }

    @Test("an admin without the privileges gets the server's error; nothing is created and no password is shown")
    func unprivilegedAdmin() async throws {
        try await withTenant(url, "weak") { _, weak in
            let admin = try DatabaseAdmin(databaseURL: weak.connectionString)
            defer { admin.close() }
            let (schema, role) = tenantNames("by_weak")
            let secret = "new-tenant-pw-\(UUID())"
            do throws(CloacinaError) {
                _ = try await admin.createTenant(TenantConfig(schemaName: schema, username: role, password: secret))
                Issue.record("a role without CREATEROLE created a tenant")
            } catch {
                #expect(error.code == .storage)
                #expect(error.message.contains("permission denied"))
                #expect(!error.message.contains(secret) && !error.message.contains(weak.password))
            }
            #expect(try catalogHas(url, schema: schema, role: role) == (false, false))
        }
    }

    @Test("the connection string keeps the admin URL's transport parameters, and none of its credentials")
    func connectionStringParameters() async throws {
        let adminURL = url + "&sslmode=disable&connect_timeout=7&application_name=admin_tool"
        try await withTenant(adminURL, "params", password: "pw") { _, creds in
            let catalog = try PostgresConnection(url)
            let admins = try #require(try catalog.query("SELECT current_user").rows.first?.text(0))
            let parameters = try #require(URLComponents(string: creds.connectionString)).queryItems ?? []
            #expect(parameters.contains(URLQueryItem(name: "sslmode", value: "disable")))
            #expect(parameters.contains(URLQueryItem(name: "connect_timeout", value: "7")))
            #expect(parameters.contains { $0.name == "host" && $0.value?.hasPrefix("/") == true })
            #expect(!creds.connectionString.contains("\(admins)@"))
            let tenant = try PostgresConnection(creds.connectionString)
            #expect(try tenant.query("SELECT current_database()").rows.first?.text(0) == catalog.database)
        }
    }

    @Test("three tenants run executions at once, each in its own schema; listTenants shows them until removed")
    func threeTenants() async throws {
        let directory = try TemporaryDirectory("admin-three")
        var template = DefaultRunner.Configuration(databaseURL: "")
        template.packageCacheDirectory = directory.file("packages")
        template.embeddedPackages = [Self.package]
        template.dbPoolSize = 2
        let manager = TenantManager(storage: .postgresSchemas(url: url), template: template)
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let tenants = (0..<3).map { StoreBackend.uniqueSchemaName("three\($0)") }
        let results = try await withThrowingTaskGroup(of: (String, [ExecutionResult]).self) { group in
            for tenant in tenants {
                group.addTask {
                    async let first = manager.executeForTenant(tenant, "chain")
                    async let second = manager.executeForTenant(tenant, "chain")
                    return (tenant, try await [first, second])
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for tenant in tenants {
            let own = try #require(results[tenant])
            #expect(own.allSatisfy { $0.status == .completed && $0.tenant == tenant })
            let listed = try await manager.runner(for: tenant).listExecutions().map(\.executionID)
            #expect(Set(listed) == Set(own.map(\.executionID)))
        }
        await manager.shutdown()
        #expect(Set(tenants).isSubset(of: try await admin.listTenants()))
        // These tenants have no roles of their own: removal drops just the schemas.
        for tenant in tenants { try await admin.removeTenant(schemaName: tenant, username: tenant) }
        #expect(Set(tenants).isDisjoint(with: try await admin.listTenants()))
    }
}

/// A PostgreSQL restart in the middle of a run, on the second test server (`CLOACINA_TEST_POSTGRES_RESTART_URL`),
/// which only this suite uses, so restarting it disturbs no other test.
@Suite(
    "DatabaseAdmin tenant across a PostgreSQL restart",
    .enabled(
        if: TestEnvironment.variable("CLOACINA_TEST_POSTGRES_RESTART_URL") != nil
            && TestEnvironment.variable("CLOACINA_TEST_POSTGRES_RESTART") != nil,
        "needs CLOACINA_TEST_POSTGRES_RESTART_URL and CLOACINA_TEST_POSTGRES_RESTART"
    )
)
struct DatabaseAdminRestartTests {
    let url = TestEnvironment.variable("CLOACINA_TEST_POSTGRES_RESTART_URL") ?? ""
    let restart = TestEnvironment.variable("CLOACINA_TEST_POSTGRES_RESTART") ?? ""

    /// A task that tells it has started, then waits until it is let go.
    final class Gate: Sendable {
        private let arrivals = AsyncStream<Void>.makeStream()
        private let release = DispatchSemaphore(value: 0)

        func arriveAndWait() {
            arrivals.continuation.yield()
            release.wait()
        }

        func arrived() async {
            var iterator = arrivals.stream.makeAsyncIterator()
            _ = await iterator.next()
        }

        func open() { release.signal() }
    }

    @Test("a run across a restart completes with every transition recorded, or fails clearly; the store is consistent")
    func restartDuringRun() async throws {
        let gate = Gate()
        let package = WorkflowPackage(name: "restart", version: "1") {
            Workflow("gated") {
                WorkflowTask("before") { ctx in ctx["before"] = true }
                WorkflowTask("wait", dependsOn: "before") { ctx in
                    gate.arriveAndWait()
                    ctx["waited"] = true
                }
                WorkflowTask("after", dependsOn: "wait") { ctx in ctx["after"] = true }
            }
        }
        try await withTenant(url, "restart") { _, creds in
            let runner = try await DefaultRunner.withSchema(creds.connectionString, creds.schemaName)
            defer { gate.open() }
            try runner.register(package)
            let id = try await runner.executeAsync("gated")
            await gate.arrived()
            let started = try serverStart()
            let status = await Self.shell(restart)
            #expect(status == 0)
            #expect(try serverStart() != started)
            gate.open()

            var ended: ExecutionResult?
            do throws(CloacinaError) {
                ended = try await runner.waitForExecution(id)
            } catch {
                // Failing is allowed, if it says why (and never shows the password).
                #expect(!error.message.isEmpty && !error.message.contains(creds.password))
            }
            await runner.shutdown()
            if let ended {
                #expect(ended.status == .completed, "\(ended.error ?? "")")
                #expect(ended.finalContext?["after"] == true)
            }

            // What the store holds, read afresh: never an ended execution with unfinished tasks.
            let store = try PostgresExecutionStore(url: creds.connectionString, schema: creds.schemaName)
            defer { store.close() }
            let record = try #require(try store.execution(id))
            let tasks = try store.tasks(of: id)
            #expect(tasks.count == 3)
            if record.status.isFinished {
                #expect(tasks.allSatisfy { $0.status.isTerminal }, "\(tasks.map(\.status))")
            }
            if record.status == .completed {
                #expect(tasks.allSatisfy { $0.status == .completed })
                let completed = try store.events(of: id).filter { $0.kind == .taskCompleted }.compactMap(\.taskID)
                #expect(Set(completed) == ["before", "wait", "after"])
            }
            if let ended { #expect(ended.status == record.status) }
        }
    }

    /// When the server last started.
    func serverStart() throws -> String? {
        try PostgresConnection(url).query("SELECT pg_postmaster_start_time()::text").rows.first?.text(0)
    }

    /// Runs `command` with `/bin/sh -c` on a thread of its own; returns its wait status (0: it exited with 0).
    /// (Foundation's `Process` is not used: its `waitUntilExit` can miss the exit of a child that started a daemon.)
    static func shell(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread {
                let words: [String] = ["/bin/sh", "-c", command]
                let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
                defer { for argument in arguments { free(argument) } }
                var pid = pid_t()
                guard posix_spawn(&pid, "/bin/sh", nil, nil, arguments + [nil], environ) == 0 else {
                    return continuation.resume(returning: -1)
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 {
                    guard errno == EINTR else { return continuation.resume(returning: -1) }
                }
                continuation.resume(returning: status)
            }
            .start()
        }
    }
}

/// Unique names for one tenant: `t_<label>_<hex>` for its schema and `r_<label>_<hex>` for its role.
func tenantNames(_ label: String) -> (schema: String, role: String) {
    let schema = StoreBackend.uniqueSchemaName(label)
    return (schema, "r" + schema.dropFirst())
}

/// Runs `body` with a new admin and a new tenant, then removes the tenant (if `body` did not) and closes the admin.
func withTenant(
    _ url: String,
    _ label: String,
    password: String = "",
    _ body: (DatabaseAdmin, TenantCredentials) async throws -> Void
) async throws {
    let admin = try DatabaseAdmin(databaseURL: url)
    let (schema, role) = tenantNames(label)
    let creds = try await admin.createTenant(TenantConfig(schemaName: schema, username: role, password: password))
    let outcome: Result<Void, any Error>
    do {
        try await body(admin, creds)
        outcome = .success(())
    } catch {
        outcome = .failure(error)
    }
    do throws(CloacinaError) {
        try await admin.removeTenant(schemaName: schema, username: role)
    } catch {
        if error.code != .notFound { Issue.record(error, "removing tenant \(schema)") }
    }
    admin.close()
    let left = try catalogHas(url, schema: schema, role: role)
    #expect(left == (false, false))
    try outcome.get()
}

/// Whether the schema and the role exist, as the server's catalogs say.
func catalogHas(_ url: String, schema: String, role: String) throws -> (schema: Bool, role: Bool) {
    let catalog = try PostgresConnection(url)
    let row = try catalog.query(
        """
        SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)
        """,
        [.text(schema), .text(role)]
    ).rows.first
    return (row?.bool(0) ?? true, row?.bool(1) ?? true)
}

/// Checks the server log (which records DDL) shows the role's creation, but never `password`.
func expectNotLogged(_ password: String, role: String) throws {
    guard let path = TestEnvironment.variable("CLOACINA_TEST_POSTGRES_LOG") else { return }
    let log = try String(contentsOfFile: path, encoding: .utf8)
    #expect(log.contains("CREATE ROLE \"\(role)\""))
    #expect(!log.contains(password))
}
