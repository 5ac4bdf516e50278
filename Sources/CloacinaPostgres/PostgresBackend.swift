public import CloacinaStorage

/// The PostgreSQL ``StoreBackend``: `postgresql://` and `postgres://` URLs (libpq conninfo URLs, passed to libpq
/// unchanged, so `PG*` variables and `.pgpass` apply), and a tenant is a schema of the URL's database (its tenant
/// space).
///
/// A store's schema is the one asked for, else the tenant's name, else `cloacina`; schema and tenant names follow
/// ``PostgresIdentifier``'s rule. A tenant name that breaks it is refused rather than mapped to a shared schema.
/// Tenants' database roles are `DatabaseAdmin`'s business (in `CloacinaPostgresAdmin`), not the backend's.
public struct PostgresBackend: StoreBackend {
    public init() {}

    public var name: String { "PostgreSQL" }
    public var schemes: [String] { ["postgresql", "postgres"] }
    public var exampleURL: String { "postgresql://user@host/database" }
    public var supportsSchemas: Bool { true }

    public func validate(url: String) throws(StoreError) {
        guard schemes.contains(where: { url.hasPrefix("\($0)://") }) else {
            throw StoreError(
                .configuration,
                "\"\(redacted(url))\" is not a PostgreSQL URL: use postgresql://… or postgres://…"
            )
        }
    }

    /// A `postgresql://` or `postgres://` URL as it is; a libpq `key=value` string as the URL with its parameters
    /// (``PostgresConnectionString/url(ofKeywordString:)``). A URL of another scheme, or a string libpq cannot parse,
    /// is refused without showing it (beyond a URL's redacted form).
    public func url(forConnectionString connectionString: String) throws(StoreError) -> String {
        if let scheme = StoreRegistry.scheme(of: connectionString) {
            guard schemes.contains(scheme) else {
                throw StoreError(
                    .configuration,
                    "\"\(redacted(connectionString))\" is not a PostgreSQL connection string (its scheme is \(scheme)): "
                        + "use postgresql://… or libpq's key=value form"
                )
            }
            try validate(url: connectionString)
            return connectionString
        }
        guard let url = PostgresConnectionString.url(ofKeywordString: connectionString) else {
            throw StoreError(
                .configuration,
                "the connection string is neither a postgresql:// URL nor libpq key=value parameters (host=… "
                    + "dbname=… user=…)"
            )
        }
        return url
    }

    public func open(url: String, options: StoreOptions) throws(StoreError) -> any ExecutionStore {
        try validate(url: url)
        let schema: String
        if let configured = options.schema {
            schema = configured
        } else if let tenant = options.tenant {
            guard PostgresIdentifier.isValid(tenant) else {
                throw StoreError(
                    .configuration,
                    "the tenant name \"\(tenant)\" is not a valid PostgreSQL schema name (lower-case letters, digits "
                        + "and underscores, at most 63, not reserved); set a schema explicitly"
                )
            }
            schema = tenant
        } else {
            schema = "cloacina"
        }
        do {
            return try PostgresExecutionStore(
                url: url,
                schema: schema,
                poolSize: options.poolSize,
                createSchema: options.createSchema
            )
        } catch {
            throw StoreError(error.code, "cannot open \(redacted(url)): \(error.message)")
        }
    }

    // MARK: Tenants

    /// `url` itself: its database holds the tenants' schemas.
    public func tenantSpace(of url: String) throws(StoreError) -> String {
        try validate(url: url)
        return url
    }

    public func validate(tenant: String) throws(StoreError) {
        do throws(PostgresError) {
            _ = try PostgresIdentifier(tenant, kind: "tenant")
        } catch {
            throw StoreError(.invalidName, error.message)
        }
    }

    public func store(ofTenant tenant: String, in url: String) -> (url: String, schema: String?) {
        (url, tenant)
    }

    /// The schemas of `url`'s database holding Cloacina's tables, read from the catalogs (so any role may ask).
    public func tenants(in url: String) throws(StoreError) -> [String] {
        try validate(url: url)
        do throws(PostgresError) {
            let connection = try PostgresConnection(url)
            return try PostgresSchema.tenantSchemas(on: connection)
        } catch {
            let failure = error.storeError
            throw StoreError(failure.code, "listing the tenants of \(redacted(url)): \(failure.message)")
        }
    }

    /// Refused: a PostgreSQL tenant is removed with `DatabaseAdmin.removeTenant`, which drops its role too.
    public func removeTenant(_ tenant: String, in url: String) throws(StoreError) {
        throw StoreError(
            .configuration,
            "a PostgreSQL tenant is removed with DatabaseAdmin.removeTenant (`cloacina tenant remove`), which also "
                + "drops its role"
        )
    }
}
