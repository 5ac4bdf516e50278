internal import CloacinaModel
internal import CloacinaPostgres
internal import CloacinaStorage

/// The admin's record of which login role belongs to which tenant: the table `cloacina_admin.tenants`
/// (`schema_name`, `role_name`, `created_at`), which the admin role creates and owns, in a schema on which no other
/// role has any privilege (so a tenant's role can neither read it nor lock it).
///
/// ``DatabaseAdmin/createTenant(_:)`` records a tenant in the transaction that creates it;
/// ``DatabaseAdmin/removeTenant(schemaName:username:)`` removes exactly the recorded role and forgets the row. Every
/// change takes a lock on the table first, so admin operations on one database happen one at a time.
extension DatabaseAdmin {
    /// The registry's schema, a name tenants may not take.
    static let registrySchema = "cloacina_admin"
    /// The registry table, quoted.
    static let registryTable = "\"cloacina_admin\".\"tenants\""

    /// One row of the registry.
    struct RegistryRow: Sendable, Hashable {
        var schemaName: String
        var roleName: String
        var createdAt: Timestamp
    }

    /// Whether the registry table exists (from the catalogs, which any role may read, so this never needs a
    /// privilege on the registry itself).
    static func registryExists(on connection: PostgresConnection) throws(PostgresError) -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = 'tenants')
            """,
            [.text(registrySchema)]
        ).rows.first?.bool(0) == true
    }

    /// Creates the registry's schema and table when they are missing, in a transaction of its own, with every
    /// privilege of other roles revoked; an admin that created them at the same moment is fine (the statements
    /// have no `IF NOT EXISTS`, so only the transaction that creates an object changes its privileges).
    static func createRegistry(on connection: PostgresConnection) throws(PostgresError) {
        for attempt in 1...3 {
            guard try !registryExists(on: connection) else { return }
            let schemaExists =
                try connection.query(
                    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
                    [.text(registrySchema)]
                ).rows.first?.bool(0) == true
            do throws(PostgresError) {
                try transaction(connection) { () throws(PostgresError) -> Void in
                    if !schemaExists {
                        try connection.execute(
                            "CREATE SCHEMA \"\(registrySchema)\"; REVOKE ALL ON SCHEMA \"\(registrySchema)\" FROM PUBLIC"
                        )
                    }
                    try connection.execute(
                        """
                        CREATE TABLE \(registryTable) (
                            schema_name TEXT COLLATE "C" PRIMARY KEY,
                            role_name TEXT COLLATE "C" NOT NULL UNIQUE,
                            created_at BIGINT NOT NULL
                        );
                        REVOKE ALL ON TABLE \(registryTable) FROM PUBLIC;
                        """
                    )
                }
            } catch  where attempt < 3 && ["42P06", "42P07", "23505"].contains(error.sqlState ?? "") {
                // Created by a concurrent admin between the check and here: look again.
            }
        }
    }

    /// Locks the registry against every other admin operation until the transaction ends; waits at most
    /// `timeout` for a lock another session holds (and then fails with SQLSTATE 55P03, which
    /// ``lockWaitFailure(_:schema:timeout:on:)`` explains).
    static func lockRegistry(on connection: PostgresConnection, timeout: Duration) throws(PostgresError) {
        try setLockTimeout(timeout, on: connection)
        try connection.execute("LOCK TABLE \(registryTable) IN SHARE ROW EXCLUSIVE MODE")
    }

    /// Makes every lock wait of the open transaction give up after `timeout`.
    static func setLockTimeout(_ timeout: Duration, on connection: PostgresConnection) throws(PostgresError) {
        // lock_timeout is an integer of milliseconds; 0 would mean "wait forever", so at least 1.
        try connection.execute("SET LOCAL lock_timeout = \(min(max(1, timeout.inMilliseconds), Int64(Int32.max)))")
    }

    /// The recorded row of the tenant whose schema is `schema`, and of the tenant whose role is `role`.
    static func registryRows(
        schema: String,
        role: String?,
        on connection: PostgresConnection
    ) throws(PostgresError) -> (ofSchema: RegistryRow?, ofRole: RegistryRow?) {
        let rows = try connection.query(
            """
            SELECT schema_name, role_name, created_at FROM \(registryTable)
            WHERE schema_name = $1 OR role_name = $2
            """,
            [.text(schema), role.map { .text($0) } ?? .null]
        ).rows.compactMap(registryRow)
        return (rows.first { $0.schemaName == schema }, rows.first { role != nil && $0.roleName == role })
    }

    /// Every recorded tenant; none when there is no registry yet.
    static func registryRows(on connection: PostgresConnection) throws(PostgresError) -> [RegistryRow] {
        guard try registryExists(on: connection) else { return [] }
        return try connection.query("SELECT schema_name, role_name, created_at FROM \(registryTable)").rows
            .compactMap(registryRow)
    }

    /// Records that `role` belongs to the tenant `schema`.
    static func record(
        schema: PostgresIdentifier,
        role: PostgresIdentifier,
        on connection: PostgresConnection
    ) throws(PostgresError) {
        try connection.query(
            "INSERT INTO \(registryTable) (schema_name, role_name, created_at) VALUES ($1, $2, $3)",
            [.text(schema.name), .text(role.name), .integer(Timestamp.now().milliseconds)]
        )
    }

    /// Forgets the tenant `schema`.
    static func forget(schema: PostgresIdentifier, on connection: PostgresConnection) throws(PostgresError) {
        try connection.query("DELETE FROM \(registryTable) WHERE schema_name = $1", [.text(schema.name)])
    }

    private static func registryRow(_ row: PostgresRow) -> RegistryRow? {
        guard let schema = row.text(0), let role = row.text(1), let created = row.int64(2) else { return nil }
        return RegistryRow(schemaName: schema, roleName: role, createdAt: Timestamp(milliseconds: created))
    }
}
