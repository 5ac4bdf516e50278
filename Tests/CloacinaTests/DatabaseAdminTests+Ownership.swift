import Cloacina
import CloacinaPostgres
import CloacinaPostgresAdmin
import CloacinaStorage
import Foundation
import Testing

/// Which role belongs to which tenant (the registry `cloacina_admin.tenants`), and what a tenant's role can no
/// longer do to other tenants: hold up their creation, have their role removed, read the registry.
extension DatabaseAdminTests {
    /// `url` with a server-side statement timeout, so that a test whose call would wait for a lock fails instead of
    /// hanging.
    var boundedURL: String { url + "&options=-c%20statement_timeout%3D5000" }

    /// The advisory-lock key `tenant create` used to take for `schema` (FNV-1a of `cloacina.schema.<name>`): any
    /// role could take it first, knowing only the new tenant's name.
    static func formerLockKey(_ schema: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "cloacina.schema.\(schema)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// Whether `credentials`' role can log in.
    static func logsIn(_ credentials: TenantCredentials) -> Bool {
        (try? PostgresConnection(credentials.connectionString)) != nil
    }

    @Test("a tenant's role cannot hold up the creation of another tenant, nor lock the registry")
    func tenantCannotBlockCreation() async throws {
        try await withTenant(url, "blocker") { _, blocker in
            let (schema, role) = tenantNames("blocked")
            let tenant = try PostgresConnection(blocker.connectionString)
            // Every lock the tenant's role can take: the advisory lock of the new name (any role may take any key),
            // its own tables, and the catalogs it may read.
            try tenant.query("SELECT pg_advisory_lock($1::bigint)", [.integer(Self.formerLockKey(schema))])
            try tenant.execute(
                """
                BEGIN;
                LOCK TABLE "\(blocker.schemaName)".schema_migrations IN ACCESS EXCLUSIVE MODE;
                LOCK TABLE pg_catalog.pg_namespace, pg_catalog.pg_class IN ACCESS SHARE MODE;
                SAVEPOINT registry
                """
            )
            do throws(PostgresError) {
                try tenant.execute("LOCK TABLE cloacina_admin.tenants IN ACCESS EXCLUSIVE MODE")
                Issue.record("a tenant's role locked the registry")
            } catch {
                #expect(error.sqlState == "42501", "\(error)")
            }
            try tenant.execute("ROLLBACK TO SAVEPOINT registry")

            let admin = try DatabaseAdmin(databaseURL: boundedURL)
            defer { admin.close() }
            let created = try await admin.createTenant(TenantConfig(schemaName: schema, username: role))
            #expect(Self.logsIn(created))
            // A privileged runner creating a new schema is not held up either.
            let runnerSchema = StoreBackend.uniqueSchemaName("blocked_runner")
            defer { StoreBackend.dropSchema(runnerSchema, url: url) }
            try tenant.query("SELECT pg_advisory_lock($1::bigint)", [.integer(Self.formerLockKey(runnerSchema))])
            try PostgresExecutionStore(url: boundedURL, schema: runnerSchema, poolSize: 1).close()
            try tenant.execute("ROLLBACK")
            let removed = try await admin.removeTenant(schemaName: schema)
            #expect(removed.removedSchema && removed.removedRole == role)
        }
    }

    @Test("a lock held past the admin's lock timeout fails the call, naming the session that holds it")
    func lockTimeoutNamesHolder() async throws {
        try await withTenant(url, "timeout") { _, _ in
            let holder = try PostgresConnection(url)
            let pid = try #require(try holder.query("SELECT pg_backend_pid()::int8").rows.first?.int64(0))
            // The server ends the holder's transaction after 3 s idle, so a slow test run cannot make it hold the
            // registry (which every other test's admin calls need) for longer.
            try holder.execute("SET idle_in_transaction_session_timeout = '3s'")
            try holder.execute("BEGIN; LOCK TABLE cloacina_admin.tenants IN SHARE MODE")
            let admin = try DatabaseAdmin(databaseURL: boundedURL, lockTimeout: .milliseconds(200))
            defer { admin.close() }
            let (schema, role) = tenantNames("waiting")
            do throws(CloacinaError) {
                _ = try await admin.createTenant(TenantConfig(schemaName: schema, username: role))
                Issue.record("a tenant was created while the registry was locked")
            } catch {
                #expect(error.code == .storage)
                #expect(error.message.contains("gave up after 0.2 s waiting for a lock"), "\(error.message)")
                #expect(error.message.contains("session \(pid) "), "\(error.message)")
                #expect(error.message.contains("\"cloacina_admin\".\"tenants\""), "\(error.message)")
            }
            _ = try? holder.execute("ROLLBACK")
            #expect(try catalogHas(url, schema: schema, role: role) == (false, false))
        }
    }

    @Test("a role belongs to one tenant: another tenant cannot take it, and removal drops exactly the recorded role")
    func roleOwnership() async throws {
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let catalog = try PostgresConnection(url)
        let (acme, acmeRole) = tenantNames("own_acme")
        let (globex, _) = tenantNames("own_globex")
        let globexApp = globex + "_app"
        let acmeCredentials = try await admin.createTenant(TenantConfig(schemaName: acme, username: acmeRole))

        // Another tenant cannot be given acme's role, nor a role that exists outside any tenant.
        do throws(CloacinaError) {
            _ = try await admin.createTenant(TenantConfig(schemaName: globex, username: acmeRole))
            Issue.record("a second tenant was given acme's role")
        } catch {
            #expect(error.code == .conflict)
            #expect(error.message.contains("belongs to tenant \"\(acme)\""), "\(error.message)")
        }
        let stranger = "r_stranger_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try catalog.execute("CREATE ROLE \"\(stranger)\" LOGIN")
        defer { _ = try? catalog.execute("DROP ROLE \"\(stranger)\"") }
        do throws(CloacinaError) {
            _ = try await admin.createTenant(TenantConfig(schemaName: globex, username: stranger))
            Issue.record("a tenant was given a role that existed already")
        } catch {
            #expect(error.code == .conflict)
            #expect(error.message.contains("exists already"), "\(error.message)")
        }
        #expect(try catalogHas(url, schema: globex, role: stranger) == (false, true))

        // A tenant whose role is named like another tenant: removing that other tenant leaves the role alone.
        let globexCredentials = try await admin.createTenant(TenantConfig(schemaName: globex, username: globexApp))
        let (initech, _) = tenantNames("own_initech")
        let initechCredentials = try await admin.createTenant(TenantConfig(schemaName: initech, username: globex))
        let listed = try await admin.tenants().filter { [acme, globex, initech].contains($0.schemaName) }
        #expect(listed.map(\.schemaName) == [acme, globex, initech].sorted())
        #expect(Set(listed.map(\.roleName)) == [acmeRole, globexApp, globex])
        #expect(listed.allSatisfy { $0.createdAt != nil })

        // The seed API with a role that is not the recorded one removes nothing.
        await #expect {
            try await admin.removeTenant(schemaName: globex, username: globex)
        } throws: { ($0 as? CloacinaError)?.code == .invalidInput }
        #expect(Self.logsIn(globexCredentials) && Self.logsIn(initechCredentials))

        let removed = try await admin.removeTenant(schemaName: globex)
        #expect(removed == DatabaseAdmin.RemovedTenant(schemaName: globex, removedSchema: true, removedRole: globexApp))
        #expect("\(removed)" == "removed tenant \(globex): schema \"\(globex)\" and role \"\(globexApp)\"")
        #expect(!Self.logsIn(globexCredentials))
        #expect(try catalogHas(url, schema: globex, role: globexApp) == (false, false))
        #expect(Self.logsIn(initechCredentials) && Self.logsIn(acmeCredentials))

        let removedInitech = try await admin.removeTenant(schemaName: initech, username: globex)
        #expect(removedInitech.removedRole == globex)
        #expect(!Self.logsIn(initechCredentials))
        await #expect { try await admin.removeTenant(schemaName: globex) } throws: {
            ($0 as? CloacinaError)?.code == .notFound
        }
        try await admin.removeTenant(schemaName: acme, username: acmeRole)
        #expect(!Self.logsIn(acmeCredentials))
    }

    @Test("a tenant the registry does not know loses its role only when the role is nobody else's")
    func unrecordedTenants() async throws {
        let admin = try DatabaseAdmin(databaseURL: url)
        defer { admin.close() }
        let catalog = try PostgresConnection(url)
        /// A tenant as the admin made it before the registry existed.
        func unrecorded(_ schema: String, role: String) async throws -> TenantCredentials {
            let credentials = try await admin.createTenant(TenantConfig(schemaName: schema, username: role))
            try catalog.query("DELETE FROM cloacina_admin.tenants WHERE schema_name = $1", [.text(schema)])
            return credentials
        }

        // Its role named like the schema, owning nothing: both go, as before.
        let (plain, _) = tenantNames("old_plain")
        let plainCredentials = try await unrecorded(plain, role: plain)
        #expect(try await admin.tenants().contains { $0.schemaName == plain && $0.roleName == nil })
        let plainRemoved = try await admin.removeTenant(schemaName: plain)
        #expect(plainRemoved == DatabaseAdmin.RemovedTenant(schemaName: plain, removedSchema: true, removedRole: plain))
        #expect(!Self.logsIn(plainCredentials))

        // Its role named like the schema belongs to a recorded tenant: the schema goes, the role stays.
        let (old, _) = tenantNames("old_shadowed")
        let (owner, _) = tenantNames("old_owner")
        let ownerCredentials = try await admin.createTenant(TenantConfig(schemaName: owner, username: old))
        _ = try await unrecorded(old, role: old + "_app")
        let shadowed = try await admin.removeTenant(schemaName: old)
        #expect(shadowed.removedSchema && shadowed.removedRole == nil && shadowed.keptRole == old)
        #expect(shadowed.keptRoleReason?.contains("belongs to tenant \"\(owner)\"") == true)
        #expect(Self.logsIn(ownerCredentials))
        try await admin.removeTenant(schemaName: owner)
        _ = try? catalog.execute("DROP OWNED BY \"\(old)_app\"; DROP ROLE \"\(old)_app\"")

        // Its role owns an object outside the schema: the schema goes, the role stays.
        let (owning, _) = tenantNames("old_owning")
        let owningCredentials = try await unrecorded(owning, role: owning)
        try catalog.execute(
            "CREATE TABLE public.\(owning)_kept (a int); ALTER TABLE public.\(owning)_kept OWNER TO \(owning)"
        )
        defer { _ = try? catalog.execute("DROP TABLE public.\(owning)_kept; DROP ROLE \(owning)") }
        let kept = try await admin.removeTenant(schemaName: owning)
        #expect(kept.removedSchema && kept.removedRole == nil && kept.keptRole == owning)
        #expect(kept.keptRoleReason?.contains("owns objects outside schema") == true)
        #expect(Self.logsIn(owningCredentials))
        #expect(try catalogHas(url, schema: owning, role: owning) == (false, true))
    }

    @Test("an admin with CREATEROLE and CREATE on the database, no superuser, creates, lists and removes tenants")
    func createRoleAdmin() async throws {
        try await withTenant(url, "registry_made") { _, _ in
            let catalog = try PostgresConnection(url)
            let adminRole = "r_admin_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
            let password = "admin-pw-\(UUID())"
            try catalog.execute(
                """
                CREATE ROLE "\(adminRole)" LOGIN CREATEROLE PASSWORD \(try catalog.literal(password));
                GRANT CREATE ON DATABASE "\(catalog.database ?? "")" TO "\(adminRole)";
                GRANT USAGE ON SCHEMA cloacina_admin TO "\(adminRole)";
                GRANT ALL ON cloacina_admin.tenants TO "\(adminRole)"
                """
            )
            defer {
                _ = try? catalog.execute(
                    "DROP OWNED BY \"\(adminRole)\" CASCADE; DROP ROLE \"\(adminRole)\""
                )
            }
            let admin = try DatabaseAdmin(
                databaseURL: PostgresTestURL.replacing(url, user: adminRole, password: password)
            )
            defer { admin.close() }
            let (schema, role) = tenantNames("by_createrole")
            let credentials = try await admin.createTenant(TenantConfig(schemaName: schema, username: role))
            #expect(Self.logsIn(credentials))
            #expect(try await admin.tenants().contains { $0.schemaName == schema && $0.roleName == role })
            let removed = try await admin.removeTenant(schemaName: schema)
            #expect(removed == DatabaseAdmin.RemovedTenant(schemaName: schema, removedSchema: true, removedRole: role))
            #expect(try catalogHas(url, schema: schema, role: role) == (false, false))
        }
    }

    @Test("a tenant's role cannot read or change the registry, nor any other tenant's rows")
    func registryHidden() async throws {
        try await withTenant(url, "peek_a") { _, a in
            try await withTenant(url, "peek_b") { _, b in
                let tenant = try PostgresConnection(a.connectionString)
                let denied = [
                    "SELECT * FROM cloacina_admin.tenants",
                    "INSERT INTO cloacina_admin.tenants VALUES ('x', 'y', 0)",
                    "UPDATE cloacina_admin.tenants SET role_name = '\(a.username)'",
                    "DELETE FROM cloacina_admin.tenants",
                    "CREATE TABLE cloacina_admin.x (a int)",
                    "SELECT count(*) FROM \"\(b.schemaName)\".executions",
                    "SELECT count(*) FROM \"\(b.schemaName)\".schema_migrations",
                ]
                for sql in denied {
                    do throws(PostgresError) {
                        try tenant.execute(sql)
                        Issue.record("a tenant's role ran \(sql)")
                    } catch {
                        #expect(error.sqlState == "42501", "\(sql): \(error)")
                    }
                }
                let privileges = try #require(
                    try tenant.query(
                        """
                        SELECT has_schema_privilege('cloacina_admin', 'USAGE'),
                            has_schema_privilege('cloacina_admin', 'CREATE'),
                            has_schema_privilege($1, 'USAGE')
                        """,
                        [.text(b.schemaName)]
                    ).rows.first
                )
                #expect(privileges.bool(0) == false && privileges.bool(1) == false && privileges.bool(2) == false)
            }
        }
    }
}
