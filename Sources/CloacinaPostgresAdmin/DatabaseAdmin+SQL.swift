internal import CloacinaModel
internal import CloacinaPostgres
internal import CloacinaStorage

/// The statements of ``DatabaseAdmin``: each operation is one transaction on the admin connection, holding the
/// registry lock (see `DatabaseAdmin+Registry.swift`) and giving up on any lock wait after the admin's lock timeout.
extension DatabaseAdmin {
    enum Creation: Sendable {
        case created(TenantCredentials)
        /// Nothing was created: the schema or the role is taken, for this reason.
        case refused(String)
    }

    enum Removal: Sendable {
        case removed(RemovedTenant)
        /// There is no such tenant: nothing of it was found (or only a role that is kept, for this reason).
        case notFound(String?)
        /// Nothing was removed, for this reason.
        case refused(String)
        /// The removal committed, yet this is still there.
        case remaining(String)
    }

    /// Role, schema, tables, grants and the registry row in one transaction; returns the tenant's credentials.
    static func create(
        schema: PostgresIdentifier,
        role: PostgresIdentifier,
        password: String,
        template: ConnectionTemplate,
        lockTimeout: Duration,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Creation {
        // Utility statements take no parameters: the verifier (never the password) goes in as a quoted literal.
        let verifier = try connection.literal(try connection.scramVerifier(password: password, user: role.name))
        try createRegistry(on: connection)
        let refusal = try explainingLockWaits(schema: schema, timeout: lockTimeout, on: connection) {
            () throws(PostgresError) -> String? in
            try transaction(connection) { () throws(PostgresError) -> String? in
                try lockRegistry(on: connection, timeout: lockTimeout)
                if let refusal = try creationRefusal(schema: schema, role: role, on: connection) { return refusal }
                do throws(PostgresError) {
                    try connection.execute(
                        "CREATE ROLE \(role.quoted) WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                            + "NOREPLICATION NOBYPASSRLS PASSWORD \(verifier)"
                    )
                } catch {
                    // The statement (and so the verifier) must not reach a message: keep the server's text only.
                    throw PostgresError(
                        error.code,
                        sqlState: error.sqlState,
                        message: error.message,
                        context: "creating role \(role.quoted)"
                    )
                }
                try connection.execute(
                    "CREATE SCHEMA \(schema.quoted); REVOKE ALL ON SCHEMA \(schema.quoted) FROM PUBLIC"
                )
                try PostgresSchema.createTables(connection, in: schema)
                try connection.execute(
                    """
                    GRANT USAGE ON SCHEMA \(schema.quoted) TO \(role.quoted);
                    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \(schema.quoted) TO \(role.quoted);
                    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA \(schema.quoted) TO \(role.quoted);
                    """
                )
                try record(schema: schema, role: role, on: connection)
                return nil
            }
        }
        if let refusal { return .refused(refusal) }
        return .created(
            TenantCredentials(
                username: role.name,
                password: password,
                schemaName: schema.name,
                connectionString: template.connectionString(user: role.name, password: password, via: connection)
            )
        )
    }

    /// Why `schema` with `role` cannot be created (the registry is locked): either is taken, by a tenant or not.
    private static func creationRefusal(
        schema: PostgresIdentifier,
        role: PostgresIdentifier,
        on connection: PostgresConnection
    ) throws(PostgresError) -> String? {
        let recorded = try registryRows(schema: schema.name, role: role.name, on: connection)
        if let tenant = recorded.ofSchema {
            return "tenant \(schema.quoted) exists already (its role is \"\(tenant.roleName)\")"
        }
        if let owner = recorded.ofRole {
            return
                "role \(role.quoted) belongs to tenant \"\(owner.schemaName)\"; give the new tenant a role of its own"
        }
        let existing = try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1),
                EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $2)
            """,
            [.text(schema.name), .text(role.name)]
        ).rows.first
        if existing?.bool(0) != false { return "schema \(schema.quoted) exists already" }
        if existing?.bool(1) != false {
            return "role \(role.quoted) exists already (it belongs to no tenant); give the tenant a new role name"
        }
        return nil
    }

    /// Removes the tenant `schema` in one transaction: ends its role's sessions, drops the schema with its contents,
    /// the role's privileges and the role, and forgets the registry row; then checks what was dropped is gone.
    ///
    /// The role is the one the registry records for the tenant (`role`, when given, must be that one). For a
    /// tenant the registry does not know (made before it existed, or by a privileged runner) the role is `role`,
    /// else one named like the schema, and it is kept (the schema is still removed) when it belongs to another
    /// tenant or owns objects outside the schema.
    static func remove(
        schema: PostgresIdentifier,
        role requested: PostgresIdentifier?,
        lockTimeout: Duration,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Removal {
        var roleID: Int64?
        let outcome = try explainingLockWaits(schema: schema, timeout: lockTimeout, on: connection) {
            () throws(PostgresError) -> Removal in
            try transaction(connection) { () throws(PostgresError) -> Removal in
                var recorded: RegistryRow?
                var keptBecause: String?
                if try !registryExists(on: connection) {
                    try setLockTimeout(lockTimeout, on: connection)
                } else {
                    try lockRegistry(on: connection, timeout: lockTimeout)
                    let rows = try registryRows(
                        schema: schema.name,
                        role: requested?.name ?? schema.name,
                        on: connection
                    )
                    recorded = rows.ofSchema
                    if let recorded, let requested, recorded.roleName != requested.name {
                        return .refused(
                            "the role of tenant \(schema.quoted) is \"\(recorded.roleName)\", not \(requested.quoted)"
                        )
                    }
                    if recorded == nil, let owner = rows.ofRole {
                        keptBecause = "it belongs to tenant \"\(owner.schemaName)\""
                    }
                }
                let role: PostgresIdentifier
                if let recorded {
                    role = try PostgresIdentifier(recorded.roleName, kind: "role")
                } else if let requested {
                    role = requested
                } else {
                    role = try PostgresIdentifier(schema.name, kind: "role")
                }
                let schemaRow = try connection.query(
                    """
                    SELECT n.oid::int8, EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid),
                        to_regclass(quote_ident(n.nspname) || '.schema_migrations') IS NOT NULL
                    FROM pg_catalog.pg_namespace n WHERE n.nspname = $1
                    """,
                    [.text(schema.name)]
                ).rows.first
                let roleRow =
                    keptBecause != nil
                    ? nil
                    : try connection.query(
                        """
                        SELECT oid::int8, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls,
                            rolname IN (current_user, session_user)
                        FROM pg_catalog.pg_roles WHERE rolname = $1
                        """,
                        [.text(role.name)]
                    ).rows.first
                guard schemaRow != nil || roleRow != nil || recorded != nil else { return .notFound(nil) }
                if let schemaRow, schemaRow.bool(1) == true, schemaRow.bool(2) != true {
                    return .refused("schema \(schema.quoted) holds objects but no Cloacina tables")
                }
                if let roleRow, roleRow.bool(1) == true || roleRow.bool(2) == true {
                    return .refused(
                        "role \(role.quoted) is not a tenant's role (it is privileged, or it is the admin's own)"
                    )
                }
                if recorded == nil, let roleRow, let id = roleRow.int64(0),
                    try ownsMore(roleID: id, than: schemaRow?.int64(0), on: connection)
                {
                    keptBecause =
                        "it owns objects outside schema \(schema.quoted), or has privileges in another database"
                }
                let dropsRole = roleRow != nil && keptBecause == nil
                if let keptBecause, schemaRow == nil, recorded == nil {
                    return .notFound("role \(role.quoted) exists but is not removed: \(keptBecause)")
                }
                roleID = dropsRole ? roleRow?.int64(0) : nil
                if let roleID { try endSessions(of: roleID, on: connection) }
                if schemaRow != nil { try connection.execute("DROP SCHEMA \(schema.quoted) CASCADE") }
                if dropsRole, let roleID {
                    // What the schema took with it needs no DROP OWNED, which a non-superuser admin may run only as
                    // a member of the role.
                    if try dependsOnAnything(roleID: roleID, on: connection) {
                        try connection.execute("DROP OWNED BY \(role.quoted)")
                    }
                    try connection.execute("DROP ROLE \(role.quoted)")
                }
                if recorded != nil { try forget(schema: schema, on: connection) }
                return .removed(
                    RemovedTenant(
                        schemaName: schema.name,
                        removedSchema: schemaRow != nil,
                        removedRole: dropsRole ? role.name : nil,
                        keptRole: keptBecause == nil ? nil : role.name,
                        keptRoleReason: keptBecause
                    )
                )
            }
        }
        guard case .removed(let removed) = outcome else { return outcome }
        // Sessions that logged in while the transaction ran can no longer do anything useful; end them too.
        if let roleID { try endSessions(of: roleID, on: connection) }
        let left = try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1),
                EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $2)
            """,
            [.text(schema.name), removed.removedRole.map { .text($0) } ?? .null]
        ).rows.first
        if left?.bool(0) != false { return .remaining("schema \(schema.quoted)") }
        if let role = removed.removedRole, left?.bool(1) != false { return .remaining("role \"\(role)\"") }
        return outcome
    }

    /// Whether anything in this database still belongs to the role with id `roleID` or grants it a privilege.
    private static func dependsOnAnything(
        roleID: Int64,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend
                WHERE refclassid = 'pg_catalog.pg_authid'::regclass AND refobjid = $1::oid
                    AND dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
            """,
            [.integer(roleID)]
        ).rows.first?.bool(0) != false
    }

    /// Whether the role with id `roleID` owns anything but the schema with id `schemaID` and what is in it, or has
    /// any privilege or object in another database (which `DROP OWNED` here cannot remove).
    private static func ownsMore(
        roleID: Int64,
        than schemaID: Int64?,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Bool {
        try connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_catalog.pg_shdepend d
                WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = $1::oid
                    AND (d.dbid <> (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                        OR (d.deptype = 'o' AND COALESCE(CASE d.classid
                            WHEN 'pg_catalog.pg_namespace'::regclass THEN d.objid
                            WHEN 'pg_catalog.pg_class'::regclass
                                THEN (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = d.objid)
                            WHEN 'pg_catalog.pg_type'::regclass
                                THEN (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid = d.objid)
                            WHEN 'pg_catalog.pg_proc'::regclass
                                THEN (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = d.objid)
                        END <> $2::oid, true))))
            """,
            [.integer(roleID), schemaID.map { .integer($0) } ?? .null]
        ).rows.first?.bool(0) != false
    }

    /// The tenants: the schemas holding every Cloacina table (by name) that marks a tenant, with the registry's role
    /// for each. (A registry row whose schema is gone is not a tenant; removing the tenant clears it.)
    static func tenants(on connection: PostgresConnection) throws(PostgresError) -> [Tenant] {
        let schemas = try PostgresSchema.tenantSchemas(on: connection)
        let recorded = Dictionary(try registryRows(on: connection).map { ($0.schemaName, $0) }) { first, _ in first }
        return schemas.map { schema in
            Tenant(schemaName: schema, roleName: recorded[schema]?.roleName, createdAt: recorded[schema]?.createdAt)
        }
    }

    /// `body`'s value; when it gave up waiting for a lock (SQLSTATE 55P03), an error naming the sessions that hold
    /// locks on the registry or on `schema` and its tables (as far as the catalogs still show them).
    private static func explainingLockWaits<T>(
        schema: PostgresIdentifier,
        timeout: Duration,
        on connection: PostgresConnection,
        _ body: () throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        do throws(PostgresError) {
            return try body()
        } catch  where error.sqlState == "55P03" {
            let holders = try connection.query(
                """
                SELECT DISTINCT a.pid::int8, a.usename, a.state, n.nspname, c.relname
                FROM pg_catalog.pg_locks l
                JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                LEFT JOIN pg_catalog.pg_class c ON l.locktype = 'relation' AND c.oid = l.relation
                LEFT JOIN pg_catalog.pg_namespace n ON n.oid = COALESCE(c.relnamespace, CASE
                    WHEN l.locktype = 'object' AND l.classid = 'pg_catalog.pg_namespace'::regclass THEN l.objid END)
                WHERE l.granted AND l.pid <> pg_backend_pid() AND n.nspname IN ($1, $2)
                    AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                ORDER BY 1, 4, 5
                """,
                [.text(schema.name), .text(registrySchema)]
            ).rows.map { row in
                let object = [row.text(3), row.text(4)].compactMap { $0.map { "\"\($0)\"" } }.joined(separator: ".")
                let state = row.text(2).map { ", \($0)" } ?? ""
                return "session \(row.int64(0) ?? 0) (role \"\(row.text(1) ?? "?")\"\(state)) holds \(object)"
            }
            let seconds = Double(timeout.inMilliseconds) / 1000
            throw PostgresError(
                error.code,
                sqlState: error.sqlState,
                message: "gave up after \(seconds) s waiting for a lock another session holds: "
                    + (holders.isEmpty
                        ? "it was released since; retry"
                        : holders.joined(separator: "; ")
                            + "; end that session (pg_terminate_backend) or wait for it, and retry"),
                context: error.context
            )
        }
    }

    /// Terminates every session of the role with id `roleID` but this one (in any database).
    private static func endSessions(of roleID: Int64, on connection: PostgresConnection) throws(PostgresError) {
        try connection.query(
            """
            SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
            WHERE usesysid = $1::oid AND pid <> pg_backend_pid()
            """,
            [.integer(roleID)]
        )
    }

    /// Runs `body` between `BEGIN` and `COMMIT`, rolling back when it throws. A connection that breaks during
    /// `COMMIT` leaves the outcome unknown: that is reported as ``PostgresError/Code/outcomeUnknown``, never retried.
    static func transaction<T>(
        _ connection: PostgresConnection,
        _ body: () throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        try connection.execute("BEGIN")
        let result: T
        do throws(PostgresError) {
            result = try body()
        } catch {
            if connection.isOpen && !connection.isIdle { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
        do throws(PostgresError) {
            try connection.execute("COMMIT")
        } catch  where error.isConnectionFailure {
            throw PostgresError(
                .outcomeUnknown,
                message: "the connection broke during COMMIT, so whether the change was made is unknown; "
                    + "check with listTenants (\(error.message))",
                context: error.context
            )
        }
        return result
    }
}
