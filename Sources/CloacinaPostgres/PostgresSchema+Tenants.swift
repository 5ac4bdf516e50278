extension PostgresSchema {
    /// The schemas holding Cloacina's tables (its `schema_migrations` and `executions`), sorted: a database's
    /// tenants. Read from the catalogs alone, which every role may read, so a tenant's own role can tell which tenants
    /// exist without the admin's registry.
    public static func tenantSchemas(on connection: PostgresConnection) throws(PostgresError) -> [String] {
        let marks = ["schema_migrations", "executions"]
        let schemas = try connection.query(
            """
            SELECT n.nspname FROM pg_catalog.pg_namespace n
            JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
            WHERE c.relname = ANY($1::text[])
            GROUP BY n.nspname HAVING count(DISTINCT c.relname) = $2
            """,
            [.textArray(marks), .integer(Int64(marks.count))]
        ).rows.compactMap { $0.text(0) }
        return schemas.sorted()
    }
}
