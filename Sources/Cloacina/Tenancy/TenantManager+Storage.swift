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

    /// The backend serving this storage in `stores`, and its tenant space.
    func resolved(in stores: StoreRegistry) throws(CloacinaError) -> (backend: any StoreBackend, space: String) {
        do throws(StoreError) {
            switch self {
            case .postgresSchemas(let url):
                let backend = try stores.backend(for: url)
                return (backend, try backend.tenantSpace(of: url))
            case .sqliteFiles(let directory):
                return (try stores.backend(for: "sqlite:"), directory)
            }
        } catch {
            throw CloacinaError(error)
        }
    }

    /// Where `tenant`'s store is: the database URL of its runner, and its schema (nil for a file).
    public func store(
        ofTenant tenant: String,
        stores: StoreRegistry = .builtin
    ) throws(CloacinaError) -> (url: String, schema: String?) {
        let (backend, space) = try resolved(in: stores)
        return backend.store(ofTenant: tenant, in: space)
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
    /// tables (read from the catalogs, so any role may ask). Asks on a ``BlockingCall`` thread.
    public static func exists(
        _ tenant: String,
        in storage: Storage,
        stores: StoreRegistry = .builtin
    ) async throws(CloacinaError) -> Bool {
        let (backend, space) = try storage.resolved(in: stores)
        let found = try await BlockingCall.run {
            Result { () throws(StoreError) in try backend.tenantExists(tenant, in: space) }
        }
        return try found.mapError(CloacinaError.init).get()
    }
}
