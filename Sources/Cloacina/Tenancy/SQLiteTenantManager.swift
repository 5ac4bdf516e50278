internal import CloacinaStorage

/// Tenants as SQLite files, one per tenant in a data directory (named by the SQLite backend: `<tenant>.db`): the
/// embedded default.
///
/// Isolation comes from the file system. Tenant ids are letters, digits, `_` and `-` (at most 64, not starting
/// with `-`), so an id can never name a path outside the directory. Runners are created once per tenant and reused
/// (through a ``TenantManager``). There are no roles or credentials: that is PostgreSQL's `DatabaseAdmin`.
public final class SQLiteTenantManager: Sendable {
    public let dataDirectory: String
    /// The runners of the tenants in use.
    public let manager: TenantManager
    /// The backend of the tenants' files.
    private let backend: any StoreBackend

    /// A manager for the files in `dataDirectory`, created (mode 0700) when missing.
    public init(
        dataDirectory: String,
        template: DefaultRunner.Configuration = DefaultRunner.Configuration(databaseURL: "")
    ) throws(CloacinaError) {
        do {
            try FileSystem.makeDirectory(dataDirectory, mode: 0o700)
        } catch {
            throw CloacinaError(.configuration, "cannot use data directory \(dataDirectory): \(error)")
        }
        let storage = TenantManager.Storage.sqliteFiles(directory: dataDirectory)
        self.backend = try storage.resolved(in: template.stores).backend
        self.dataDirectory = dataDirectory
        self.manager = TenantManager(storage: storage, template: template)
    }

    /// `tenant`'s runner: its file is created on first use.
    public func runner(for tenant: String) async throws(CloacinaError) -> DefaultRunner {
        try await manager.runner(for: tenant)
    }

    /// The seed documents' name for ``runner(for:)``.
    @available(*, deprecated, renamed: "runner(for:)")
    public func executor(for tenant: String) async throws(CloacinaError) -> DefaultRunner {
        try await runner(for: tenant)
    }

    /// The tenants that have a file, sorted.
    public func listTenants() throws(CloacinaError) -> [String] {
        do throws(StoreError) {
            return try backend.tenants(in: dataDirectory)
        } catch {
            throw CloacinaError(error)
        }
    }

    /// Shuts `tenant`'s runner down and deletes its file (with its WAL and shared-memory files). Throws `notFound`
    /// when the tenant has no file.
    public func deleteTenant(_ tenant: String) async throws(CloacinaError) {
        try manager.validate(tenant)
        do throws(StoreError) {
            guard try backend.tenantExists(tenant, in: dataDirectory) else {
                throw StoreError(.notFound, "no tenant \"\(tenant)\" in \(dataDirectory)")
            }
            await manager.close(tenant)
            try backend.removeTenant(tenant, in: dataDirectory)
        } catch {
            throw CloacinaError(error)
        }
    }
}
