public import Cloacina
internal import CloacinaPostgres

/// Creates and removes PostgreSQL tenants: per tenant, a schema holding Cloacina's tables and a login role that may
/// use only that schema. Which role belongs to which tenant is recorded in the admin's registry table
/// `cloacina_admin.tenants`, which no tenant role may read or lock; removal drops exactly the recorded role.
///
/// ```swift
/// import Cloacina
/// import CloacinaPostgresAdmin
///
/// let admin = try DatabaseAdmin(databaseURL: "postgresql://admin:secret@db/cloacina")
/// let creds = try await admin.createTenant(TenantConfig(schemaName: "acme", username: "acme_app", password: ""))
/// let runner = try await DefaultRunner.withSchema(creds.connectionString, creds.schemaName)
/// ```
///
/// Each call is one transaction: it happens entirely or not at all, and every SQL error is reported (as
/// ``CloacinaError``: `invalidInput` for refused names, `conflict` when the schema or role exists or the role belongs
/// to another tenant, `notFound` when there is nothing to remove, `storage` otherwise). Admin operations on one
/// database run one at a time (they lock the registry); one that waits longer than the lock timeout for a lock
/// another session holds fails, naming the sessions that hold it. Calls run one at a time on the admin's own
/// connection and its queue (a ``PostgresLane``: connected on first use, again when it breaks), never on Swift's
/// cooperative pool. Passwords never reach
/// the server in clear (it receives a SCRAM-SHA-256 verifier) and never appear in messages, nor does the admin URL
/// unredacted.
///
/// The admin role needs CREATEROLE and CREATE on the database, and owns the registry it creates with the first
/// tenant (another admin role needs all privileges on `cloacina_admin` and its table); removing a tenant whose
/// sessions are open also needs the right to terminate them (`pg_signal_backend`), and removing a role that was
/// granted privileges outside its schema needs the privileges of that role for `DROP OWNED` (a superuser has all of
/// these). It does not rotate passwords, and does not upgrade tenants'
/// tables to a newer Cloacina version (their roles may not create tables; that is left to a later version).
public final class DatabaseAdmin: Sendable {
    /// The admin URL with its password replaced by `***`.
    public let location: String
    /// The admin connection and the queue its calls run on, one at a time.
    let lane: PostgresLane
    /// How tenants' connection strings are made from the admin connection.
    let template: ConnectionTemplate
    /// How long a call waits for a lock another session holds before it fails.
    let lockTimeout: Duration

    /// An admin for the PostgreSQL database `databaseURL` names (`postgresql://` or `postgres://`, passed to libpq
    /// unchanged, so `PG*` variables and `.pgpass` apply). Connects on first use; throws `configuration` when the
    /// URL is not a PostgreSQL URL libpq can parse. A call that waits longer than `lockTimeout` for a lock another
    /// session holds (an admin's open transaction, a session of the tenant being removed) fails, naming it.
    public init(databaseURL: String, lockTimeout: Duration = .seconds(10)) throws(CloacinaError) {
        let backend = PostgresBackend()
        do throws(StoreError) {
            try backend.validate(url: databaseURL)
        } catch {
            throw CloacinaError(
                .configuration,
                "tenants with roles are a PostgreSQL feature; \(backend.redacted(databaseURL)) is not a "
                    + "postgresql:// URL (with SQLite each tenant is its own file: see SQLiteTenantManager)"
            )
        }
        let url = databaseURL
        let parameters: [(keyword: String, value: String)]
        do throws(PostgresError) {
            parameters = try PostgresConnection.parameters(of: url)
        } catch {
            throw CloacinaError(.configuration, "invalid PostgreSQL URL: \(error.description)")
        }
        self.location = backend.redacted(url)
        self.template = ConnectionTemplate(adminParameters: parameters)
        self.lockTimeout = lockTimeout
        self.lane = PostgresLane(label: "\(backend.redacted(url)) (admin)") { () throws(PostgresError) in
            try PostgresConnection(url)
        }
    }

    deinit {
        lane.close()
    }

    /// Creates `config`'s role, schema and tables, grants the role the use of them and records the role as the
    /// tenant's, in one transaction. Throws `conflict` when the schema exists, or the role exists (whether it belongs
    /// to another tenant or to no tenant at all).
    public func createTenant(_ config: TenantConfig) async throws(CloacinaError) -> TenantCredentials {
        let schema = try Self.schemaIdentifier(config.schemaName)
        let role = try Self.roleIdentifier(config.username)
        let password = config.password.isEmpty ? Self.generatedPassword() : config.password
        guard !password.utf8.contains(0) else {
            throw CloacinaError(.invalidInput, "the password of role \(role.quoted) contains a NUL byte")
        }
        let doing = "creating tenant schema \(schema.quoted) with role \(role.quoted)"
        let (template, lockTimeout) = (self.template, self.lockTimeout)
        let outcome = try await onAdminThread(doing, secrets: [password]) { connection throws(PostgresError) in
            try Self.create(
                schema: schema,
                role: role,
                password: password,
                template: template,
                lockTimeout: lockTimeout,
                on: connection
            )
        }
        switch outcome {
        case .created(let credentials): return credentials
        case .refused(let reason): throw CloacinaError(.conflict, "\(doing): \(reason)")
        }
    }

    /// Removes the tenant's schema (with everything in it) and its role, ending the role's sessions first, and
    /// forgets it in the registry, in one transaction; removes whichever of the two exists, and says which.
    ///
    /// The role dropped is the one recorded for the tenant when it was created; `username`, when given, must be
    /// that role (else `invalidInput`, removing nothing). For a tenant the registry does not know, the role is
    /// `username`, else the one named like the schema, and it is kept (see ``RemovedTenant/keptRole``) when it
    /// belongs to another tenant or owns objects outside the schema. Throws `notFound` when there is nothing to
    /// remove, and `invalidInput` (removing nothing) when the schema is not a Cloacina schema with objects in it, or
    /// the role is not a plain login role (a superuser, or one that may create roles or databases, or the admin).
    @discardableResult
    public func removeTenant(schemaName: String, username: String? = nil) async throws(CloacinaError) -> RemovedTenant {
        let schema = try Self.schemaIdentifier(schemaName)
        let role = try username.map { name throws(CloacinaError) in try Self.roleIdentifier(name) }
        let doing = "removing tenant \(schema.quoted)"
        let lockTimeout = self.lockTimeout
        let outcome = try await onAdminThread(doing) { connection throws(PostgresError) in
            try Self.remove(schema: schema, role: role, lockTimeout: lockTimeout, on: connection)
        }
        switch outcome {
        case .removed(let removed):
            return removed
        case .notFound(let detail):
            throw CloacinaError(
                .notFound,
                "no tenant schema \(schema.quoted)"
                    + (detail.map { " (\($0))" } ?? (role.map { " and no role \($0.quoted)" } ?? ""))
                    + " in \(location)"
            )
        case .refused(let reason):
            throw CloacinaError(.invalidInput, "refusing to remove tenant: \(reason)")
        case .remaining(let what):
            throw CloacinaError(.storage, "\(doing): \(what) still exists after the removal committed")
        }
    }

    /// The schemas holding Cloacina's tables (its `schema_migrations` and `executions`), sorted: the tenants made
    /// here, and those ``DefaultRunner`` or ``TenantManager`` made with a privileged role.
    public func listTenants() async throws(CloacinaError) -> [String] {
        try await onAdminThread("listing tenants") { connection throws(PostgresError) in
            try PostgresSchema.tenantSchemas(on: connection)
        }
    }

    /// The tenants of ``listTenants()``, sorted by schema, each with the role the registry records for it.
    public func tenants() async throws(CloacinaError) -> [Tenant] {
        try await onAdminThread("listing tenants") { connection throws(PostgresError) in
            try Self.tenants(on: connection)
        }
    }

    /// Closes the admin connection; later calls fail with `shuttingDown`. Calls already running finish first.
    public func close() {
        lane.close()
    }

    /// Runs `body` with the admin connection on its queue. A transaction that failed because its connection
    /// broke before `COMMIT` was sent (the server then rolled it back), or that lost a deadlock, is run once more.
    private func onAdminThread<T: Sendable>(
        _ doing: String,
        secrets: [String] = [],
        _ body: @escaping @Sendable (PostgresConnection) throws(PostgresError) -> T
    ) async throws(CloacinaError) -> T {
        let lane = self.lane
        let outcome: Result<T, PostgresError>
        do throws(StoreError) {
            // Jobs never hold the admin itself, so it is never released (and its `deinit` never closes the lane)
            // on the lane's own queue.
            outcome = try await lane.queue.run { () -> Result<T, PostgresError> in
                var attempts = 0
                while true {
                    attempts += 1
                    do throws(PostgresError) {
                        return .success(try lane.withConnection(body))
                    } catch {
                        let again = error.isConnectionFailure || error.isTransient
                        if again && attempts < 3 { continue }
                        return .failure(error)
                    }
                }
            }
        } catch {
            if error.code == .cancelled { throw CloacinaError(.cancelled, "\(doing): \(error.message)") }
            throw CloacinaError(.shuttingDown, "the database admin is closed")
        }
        switch outcome {
        case .success(let value): return value
        case .failure(let error): throw Self.failure(error, doing: doing, at: location, secrets: secrets)
        }
    }

    /// `error` as the API reports it, with every secret scrubbed from its text.
    private static func failure(
        _ error: PostgresError,
        doing: String,
        at location: String,
        secrets: [String]
    ) -> CloacinaError {
        var text = "\(error.message)" + (error.sqlState.map { " (SQLSTATE \($0))" } ?? "")
        if error.code == .closed { return CloacinaError(.shuttingDown, "the database admin is closed") }
        if error.code == .connection { text = "\(error.context): \(text)" }
        for secret in secrets where !secret.isEmpty { text = text.replacing(secret, with: "***") }
        switch error.sqlState {
        case "42710", "42P06", "23505":
            return CloacinaError(.conflict, "\(doing): \(text)")
        case "42501":
            return CloacinaError(
                .storage,
                "\(doing): permission denied: the admin role needs CREATEROLE and CREATE on the database, all "
                    + "privileges on the registry \(registryTable) if another role created it, and pg_signal_backend "
                    + "to end a tenant's sessions: \(text)"
            )
        default:
            if error.code == .outcomeUnknown || error.isConnectionFailure {
                return CloacinaError(.storage, "\(doing) at \(location): \(text)")
            }
            return CloacinaError(.storage, "\(doing): \(text)")
        }
    }
}
