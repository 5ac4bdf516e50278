#if canImport(Glibc)
internal import Glibc
#endif

/// Tenants as SQLite files, one `<tenant>.db` per tenant in a data directory: the embedded default.
///
/// Isolation comes from the file system. Tenant ids are letters, digits, `_` and `-` (at most 64, not starting
/// with `-`), so an id can never name a path outside the directory. Runners are created once per tenant and reused
/// (through a ``TenantManager``). There are no roles or credentials: that is PostgreSQL's ``DatabaseAdmin``.
public final class SQLiteTenantManager: Sendable {
    public let dataDirectory: String
    /// The runners of the tenants in use.
    public let manager: TenantManager

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
        self.dataDirectory = dataDirectory
        self.manager = TenantManager(storage: .sqliteFiles(directory: dataDirectory), template: template)
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

    /// The file of `tenant` in `directory`: the one place that says a tenant is `<directory>/<tenant>.db`.
    public static func path(of tenant: String, in directory: String) -> String {
        "\(directory)/\(tenant)\(fileSuffix)"
    }

    private static let fileSuffix = ".db"

    /// The tenants that have a file, sorted.
    public func listTenants() throws(CloacinaError) -> [String] {
        do {
            return try FileSystem.listDirectory(dataDirectory).filter { $0.hasSuffix(Self.fileSuffix) }.map {
                String($0.dropLast(Self.fileSuffix.count))
            }
            .filter(Self.isValid)
        } catch {
            throw CloacinaError(.configuration, "cannot list data directory \(dataDirectory): \(error)")
        }
    }

    /// Shuts `tenant`'s runner down and deletes its file (with its WAL and shared-memory files). Throws `notFound`
    /// when the tenant has no file.
    public func deleteTenant(_ tenant: String) async throws(CloacinaError) {
        try Self.validate(tenant)
        let path = Self.path(of: tenant, in: dataDirectory)
        guard access(path, F_OK) == 0 else {
            throw CloacinaError(.notFound, "no tenant \"\(tenant)\" in \(dataDirectory)")
        }
        await manager.close(tenant)
        // The main file goes last: until it is gone the tenant still exists, and a failure leaves it usable.
        for file in [path + "-wal", path + "-shm", path] where unlink(file) != 0 && errno != ENOENT {
            throw CloacinaError(.storage, "cannot delete \(file): \(FileSystem.errorText())")
        }
    }

    /// Whether `tenant` is a valid id: 1 to 64 letters, digits, `_` or `-`, not starting with `-`.
    public static func isValid(_ tenant: String) -> Bool {
        let utf8 = tenant.utf8
        guard let first = utf8.first, first != UInt8(ascii: "-"), utf8.count <= 64 else { return false }
        return utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
    }

    /// Throws `invalidInput` naming the rule when `tenant` is not a valid id.
    public static func validate(_ tenant: String) throws(CloacinaError) {
        guard !isValid(tenant) else { return }
        let shown = tenant.count > 80 ? String(tenant.prefix(80)) + "…" : tenant
        throw CloacinaError(
            .invalidInput,
            "invalid tenant id \"\(shown)\": use 1 to 64 letters, digits, '_' or '-', not starting with '-'"
        )
    }
}
