internal import CloacinaPostgres

/// The statements of ``DatabaseAdmin``: each operation is one transaction on the admin connection.
extension DatabaseAdmin {
    enum Removal: Sendable {
        case removed
        case notFound
        /// Nothing was removed, for this reason.
        case refused(String)
        /// The removal committed, yet this is still there.
        case remaining(String)
    }

    /// Role, schema, tables and grants in one transaction; returns the tenant's credentials.
    static func create(
        schema: PostgresIdentifier,
        role: PostgresIdentifier,
        password: String,
        template: ConnectionTemplate,
        on connection: PostgresConnection
    ) throws(PostgresError) -> TenantCredentials {
        // Utility statements take no parameters: the verifier (never the password) goes in as a quoted literal.
        let verifier = try connection.literal(try connection.scramVerifier(password: password, user: role.name))
        try transaction(connection) { () throws(PostgresError) in
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
            try connection.execute("CREATE SCHEMA \(schema.quoted)")
            try PostgresSchema.createTables(connection, in: schema)
            try connection.execute(
                """
                GRANT USAGE ON SCHEMA \(schema.quoted) TO \(role.quoted);
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \(schema.quoted) TO \(role.quoted);
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA \(schema.quoted) TO \(role.quoted);
                """
            )
        }
        return TenantCredentials(
            username: role.name,
            password: password,
            schemaName: schema.name,
            connectionString: template.connectionString(user: role.name, password: password, via: connection)
        )
    }

    /// Ends the role's sessions, drops the schema with its contents, the role's privileges and the role, in one
    /// transaction, then checks both are gone.
    static func remove(
        schema: PostgresIdentifier,
        role: PostgresIdentifier,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Removal {
        var roleID: Int64?
        let outcome = try transaction(connection) { () throws(PostgresError) -> Removal in
            let schemaRow = try connection.query(
                """
                SELECT n.oid, EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid),
                    to_regclass(quote_ident(n.nspname) || '.schema_migrations') IS NOT NULL
                FROM pg_catalog.pg_namespace n WHERE n.nspname = $1
                """,
                [.text(schema.name)]
            ).rows.first
            let roleRow = try connection.query(
                """
                SELECT oid::int8, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls,
                    rolname IN (current_user, session_user)
                FROM pg_catalog.pg_roles WHERE rolname = $1
                """,
                [.text(role.name)]
            ).rows.first
            guard schemaRow != nil || roleRow != nil else { return .notFound }
            if let schemaRow, schemaRow.bool(1) == true, schemaRow.bool(2) != true {
                return .refused("schema \(schema.quoted) holds objects but no Cloacina tables")
            }
            if let roleRow, roleRow.bool(1) == true || roleRow.bool(2) == true {
                return .refused(
                    "role \(role.quoted) is not a tenant's role (it is privileged, or it is the admin's own)"
                )
            }
            roleID = roleRow?.int64(0)
            if let roleID { try endSessions(of: roleID, on: connection) }
            if schemaRow != nil { try connection.execute("DROP SCHEMA \(schema.quoted) CASCADE") }
            if roleRow != nil { try connection.execute("DROP OWNED BY \(role.quoted); DROP ROLE \(role.quoted)") }
            return .removed
        }
        guard case .removed = outcome else { return outcome }
        // Sessions that logged in while the transaction ran can no longer do anything useful; end them too.
        if let roleID { try endSessions(of: roleID, on: connection) }
        let left = try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1),
                EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $2)
            """,
            [.text(schema.name), .text(role.name)]
        ).rows.first
        if left?.bool(0) != false { return .remaining("schema \(schema.quoted)") }
        if left?.bool(1) != false { return .remaining("role \(role.quoted)") }
        return .removed
    }

    /// The schemas holding every Cloacina table (by name) that marks a tenant.
    static func tenantSchemas(on connection: PostgresConnection) throws(PostgresError) -> [String] {
        let marks = ["schema_migrations", "executions"]
        return try connection.query(
            """
            SELECT n.nspname FROM pg_catalog.pg_namespace n
            JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
            WHERE c.relname = ANY($1::text[])
            GROUP BY n.nspname HAVING count(DISTINCT c.relname) = $2
            """,
            [.textArray(marks), .integer(Int64(marks.count))]
        ).rows.compactMap { $0.text(0) }
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
