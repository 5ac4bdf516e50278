internal import CloacinaStorage

extension PostgresSchema {
    /// Creates Cloacina's tables, at ``latestVersion``, in `schema`, inside the transaction the caller has open on
    /// `connection` (it runs no `BEGIN` or `COMMIT`), so that they appear together with whatever else that
    /// transaction creates, or not at all. The schema must exist and hold no Cloacina tables yet.
    ///
    /// The statements are the store's own migrations, so a schema made this way is one the store opens without
    /// running DDL. No other session can see the schema before the caller commits, so no lock is taken here (in
    /// particular no advisory lock, which any role could take first to make this wait). It grants nothing: the
    /// administrator does.
    public static func createTables(
        _ connection: PostgresConnection,
        in schema: PostgresIdentifier
    ) throws(PostgresError) {
        try connection.execute(migrationsTable(schema.quoted))
        for migration in migrations(schema.quoted) {
            try connection.execute(migration.sql)
            try connection.query(
                "INSERT INTO \(schema.quoted).schema_migrations (version, applied_at) VALUES ($1, $2)",
                [.integer(Int64(migration.version)), .integer(Timestamp.now().milliseconds)]
            )
        }
    }
}
