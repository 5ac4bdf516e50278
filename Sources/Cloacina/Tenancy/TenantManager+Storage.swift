public import CloacinaStorage

/// How a ``TenantManager/Storage`` maps onto a store backend: each kind of storage is a backend's tenant space
/// (a directory of SQLite files, a PostgreSQL database of schemas), and the backend names, lists and finds tenants.
extension TenantManager.Storage {
    /// The storage of the tenants of the deployment `databaseURL` belongs to, by the backend `stores` has for its
    /// scheme: the schemas of its database for a backend with schemas (PostgreSQL), else the files beside its file.
    public init(databaseURL: String, stores: StoreRegistry = .builtin) throws(CloacinaError) {
        do throws(StoreError) {
            let backend = try stores.backend(for: databaseURL)
            let space = try backend.tenantSpace(of: databaseURL)
            self = backend.supportsSchemas ? .postgresSchemas(url: space) : .sqliteFiles(directory: space)
        } catch {
            throw CloacinaError(error)
        }
    }

    /// The backend serving this storage in `stores`, and its tenant space (nil for tenants with their own roles,
    /// each of whom has a connection string of their own).
    func resolved(in stores: StoreRegistry) throws(CloacinaError) -> (backend: any StoreBackend, space: String?) {
        do throws(StoreError) {
            switch self {
            case .postgresSchemas(let url):
                let backend = try stores.backend(for: url)
                return (backend, try backend.tenantSpace(of: url))
            case .postgresTenantRoles:
                return (try stores.backend(for: "postgresql:"), nil)
            case .sqliteFiles(let directory):
                return (try stores.backend(for: "sqlite:"), directory)
            }
        } catch {
            throw CloacinaError(error)
        }
    }

    /// Where `tenant`'s store is: the database URL of its runner, and its schema (nil for a file).
    ///
    /// For tenants with their own roles, the URL is the tenant's connection string, read from its credentials now
    /// (so this blocks: call it off Swift's cooperative pool) and rewritten as a URL when it is in libpq's
    /// `key=value` form; throws `notFound` when the tenant has no credentials and `configuration` when they are
    /// refused or are not PostgreSQL's, naming where they come from (never what they say).
    public func store(
        ofTenant tenant: String,
        stores: StoreRegistry = .builtin
    ) throws(CloacinaError) -> (url: String, schema: String?) {
        let (backend, space) = try resolved(in: stores)
        guard case .postgresTenantRoles(let credentials) = self else {
            return backend.store(ofTenant: tenant, in: space ?? "")
        }
        let connectionString = try credentials.connectionString(for: tenant)
        do throws(StoreError) {
            return (try backend.url(forConnectionString: connectionString), tenant)
        } catch {
            throw CloacinaError(
                .configuration,
                "tenant \"\(tenant)\": its connection string (\(credentials.origin(of: tenant))): \(error.message)"
            )
        }
    }
}

extension TenantManager {
    /// Throws `invalidInput` naming the problem when `tenant` cannot name a tenant of `storage`: a SQLite file
    /// name (letters, digits, `_`, `-`) or a PostgreSQL schema name.
    public static func validate(
        _ tenant: String,
        for storage: Storage,
        stores: StoreRegistry = .builtin
    ) throws(CloacinaError) {
        let (backend, _) = try storage.resolved(in: stores)
        do throws(StoreError) {
            try backend.validate(tenant: tenant)
        } catch {
            throw CloacinaError(.invalidInput, error.message)
        }
    }

    /// Whether `tenant` has storage in `storage`: its SQLite file, or its PostgreSQL schema with Cloacina's
    /// tables (read from the catalogs, so any role may ask; for tenants with their own roles, asked with the
    /// tenant's own connection string, and false when it has no credentials). Asks on a ``BlockingCall`` thread.
    public static func exists(
        _ tenant: String,
        in storage: Storage,
        stores: StoreRegistry = .builtin
    ) async throws(CloacinaError) -> Bool {
        let (backend, space) = try storage.resolved(in: stores)
        let found = try await BlockingCall.run {
            Result { () throws(CloacinaError) -> Bool in
                if case .postgresTenantRoles(let credentials) = storage, !credentials.hasCredentials(for: tenant) {
                    return false
                }
                // Without a shared tenant space, the tenant's own connection string asks.
                var url = space ?? ""
                if space == nil { url = try storage.store(ofTenant: tenant, stores: stores).url }
                do throws(StoreError) {
                    return try backend.tenantExists(tenant, in: url)
                } catch {
                    throw CloacinaError(error)
                }
            }
        }
        return try found.get()
    }
}
