import ArgumentParser
import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// Where `cloacina serve` finds each PostgreSQL tenant's own connection string (its own role, as `cloacina tenant
/// create` prints it), so that the host never holds the admin URL: `--tenant-credentials DIR` (else
/// `$CLOACINA_TENANT_CREDENTIALS`), a directory with a file per tenant, and `$CLOACINA_TENANT_URL_<TENANT>`
/// variables beside it (or alone, when no database URL is configured at all). See `TenantCredentialSource` for the
/// rules a file must meet.
struct TenantCredentialOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Serve PostgreSQL tenants each as its own role: a directory with one file per tenant, named as the tenant, "
                + "holding its connection string (a postgresql:// URL or libpq key=value string; mode 0600 or 0400, "
                + "owned by this user). $CLOACINA_TENANT_URL_<TENANT> (upper case) counts too (and alone, without "
                + "this option, when no database URL is configured). Only tenants with credentials are served (of "
                + "--tenants, when given); files are read again on reload. No --database is needed, and "
                + "$DATABASE_URL is ignored (default: $CLOACINA_TENANT_CREDENTIALS).",
            valueName: "dir"
        )
    )
    var tenantCredentials: String?

    /// The directory given by the flag, else the environment.
    var directory: String? { tenantCredentials ?? Environment.value("CLOACINA_TENANT_CREDENTIALS") }

    /// The credentials to serve with, if any: those of the directory (checked to be a readable directory), else
    /// those of the environment when there is no database URL (`databaseURL`) to serve with instead. Refuses a
    /// database URL given on the command line (`databaseFlag`) beside a directory.
    func source(databaseFlag: Bool, databaseURL: String?) throws -> TenantCredentialSource? {
        guard let directory else {
            let environment = TenantCredentialSource(directory: nil)
            let named = (try? environment.tenants()) ?? []
            guard !named.isEmpty else { return nil }
            guard databaseURL == nil else {
                printError(
                    "warning: $\(TenantCredentialSource.environmentVariable(for: named[0])) is ignored: serve uses "
                        + "the database URL; pass --tenant-credentials DIR to serve each tenant as its own role"
                )
                return nil
            }
            return environment
        }
        guard !databaseFlag else {
            throw UsageError(
                message: "give --tenant-credentials or --database, not both: with tenant credentials each tenant is "
                    + "served with its own connection string, and the admin URL is only for `cloacina tenant create` "
                    + "and `tenant remove`"
            )
        }
        func refused(_ reason: String) -> UsageError {
            UsageError(message: "cannot read the tenant credentials directory \(directory): \(reason)")
        }
        var info = stat()
        guard stat(directory, &info) == 0 else { throw refused(String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw refused("not a directory") }
        guard access(directory, R_OK | X_OK) == 0 else { throw refused(String(cString: strerror(errno))) }
        return TenantCredentialSource(directory: directory)
    }
}
