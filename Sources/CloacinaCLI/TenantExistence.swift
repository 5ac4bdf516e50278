import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// Only the default tenant comes into being by being used: any other must exist (made by `cloacina tenant create`),
/// so that a typo in `--tenant` is an error instead of a new, empty tenant.
extension TenantOptions {
    /// The tenant every command may create implicitly.
    static let implicitTenant = "default"

    /// Throws `unknown tenant` (a usage error) unless `tenant` exists in `storage`, is the default tenant, or
    /// `create` allows making it.
    static func requireExisting(_ tenant: String, in storage: TenantManager.Storage, create: Bool) async throws {
        guard tenant != implicitTenant, !create, try await !exists(tenant, in: storage) else { return }
        throw UsageError(
            message: "unknown tenant \"\(tenant)\" (create it with `cloacina tenant create \(tenant)`, or pass "
                + "--create-tenant)"
        )
    }

    /// Whether `tenant` has storage: its SQLite file, or its PostgreSQL schema with Cloacina's tables.
    static func exists(_ tenant: String, in storage: TenantManager.Storage) async throws -> Bool {
        try await TenantManager.exists(tenant, in: storage)
    }
}
