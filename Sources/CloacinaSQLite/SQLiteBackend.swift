public import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

/// The SQLite ``StoreBackend``: `sqlite:` URLs, one file per store, and a tenant is the file `<directory>/<tenant>.db`
/// of a data directory (its tenant space).
///
/// URLs: `sqlite:///absolute/path.db`, `sqlite://relative/path.db` or `sqlite:path.db`, with `%XX` escapes; no
/// parameters, and never `:memory:` (executions must be durable). A store's directory is created (mode 0700) when
/// missing. Tenant ids are 1 to 64 letters, digits, `_` or `-`, not starting with `-`, so an id can never name a
/// path outside the directory.
public struct SQLiteBackend: StoreBackend {
    public init() {}

    public var name: String { "SQLite" }
    public var schemes: [String] { ["sqlite"] }
    public var exampleURL: String { "sqlite:///path/to/file.db" }
    public var supportsSchemas: Bool { false }

    /// The file a `sqlite:` URL names; throws `configuration` saying what is wrong with it.
    public static func path(of url: String) throws(StoreError) -> String {
        guard url.hasPrefix("sqlite:") else {
            throw StoreError(.configuration, "\"\(ConnectionStringRedaction.redact(url))\" is not a sqlite: URL")
        }
        var rest = url.dropFirst("sqlite:".count)
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        if let query = rest.firstIndex(of: "?") {
            throw StoreError(
                .configuration,
                "SQLite URLs take no parameters (\"\(rest[query...])\"); give just the file path"
            )
        }
        guard !rest.isEmpty, rest != ":memory:" else {
            throw StoreError(
                .configuration,
                "the SQLite URL \"\(url)\" names no file (in-memory databases are not supported: executions must be "
                    + "durable)"
            )
        }
        guard let path = ConnectionStringRedaction.percentDecoded(String(rest)) else {
            throw StoreError(.configuration, "the SQLite URL \"\(url)\" has an invalid %-escape")
        }
        return path
    }

    /// The `sqlite://` URL of the file at `path` (with `%` and `?` escaped, so ``path(of:)`` gives `path` back).
    public static func url(ofFile path: String) -> String {
        "sqlite://" + path.replacing("%", with: "%25").replacing("?", with: "%3F")
    }

    public func validate(url: String) throws(StoreError) {
        _ = try Self.path(of: url)
    }

    public func open(url: String, options: StoreOptions) throws(StoreError) -> any ExecutionStore {
        let path = try Self.path(of: url)
        guard options.schema == nil else {
            throw StoreError(
                .configuration,
                "schemas are a PostgreSQL feature; with SQLite each tenant is its own file (\(path))"
            )
        }
        do {
            try FileSystem.makeDirectory(FileSystem.parent(of: path), mode: 0o700)
        } catch {
            throw StoreError(.configuration, "cannot use data directory: \(error)")
        }
        do {
            return try SQLiteExecutionStore(path: path)
        } catch {
            throw StoreError(error.code, "cannot open \(Self.url(ofFile: path)): \(error.message)")
        }
    }

    // MARK: Tenants

    /// What follows a tenant's id in its file name.
    private static let tenantFileSuffix = ".db"

    /// The file of `tenant` in `directory`: the one place that says a tenant is `<directory>/<tenant>.db`.
    public static func file(ofTenant tenant: String, in directory: String) -> String {
        "\(directory)/\(tenant)\(tenantFileSuffix)"
    }

    /// The directory of the file `url` names: where the tenants beside it live.
    public func tenantSpace(of url: String) throws(StoreError) -> String {
        FileSystem.parent(of: try Self.path(of: url))
    }

    /// Whether `tenant` is a valid id: 1 to 64 letters, digits, `_` or `-`, not starting with `-`.
    public static func isValid(tenant: String) -> Bool {
        let utf8 = tenant.utf8
        guard let first = utf8.first, first != UInt8(ascii: "-"), utf8.count <= 64 else { return false }
        return utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
    }

    public func validate(tenant: String) throws(StoreError) {
        guard !Self.isValid(tenant: tenant) else { return }
        let shown = tenant.count > 80 ? String(tenant.prefix(80)) + "…" : tenant
        throw StoreError(
            .invalidName,
            "invalid tenant id \"\(shown)\": use 1 to 64 letters, digits, '_' or '-', not starting with '-'"
        )
    }

    public func store(ofTenant tenant: String, in directory: String) -> (url: String, schema: String?) {
        (Self.url(ofFile: Self.file(ofTenant: tenant, in: directory)), nil)
    }

    /// The tenants with a file in `directory`, sorted; files whose names are not valid ids are left out.
    public func tenants(in directory: String) throws(StoreError) -> [String] {
        do {
            return try FileSystem.listDirectory(directory).filter { $0.hasSuffix(Self.tenantFileSuffix) }.map {
                String($0.dropLast(Self.tenantFileSuffix.count))
            }
            .filter { Self.isValid(tenant: $0) }
        } catch {
            throw StoreError(.configuration, "cannot list data directory \(directory): \(error)")
        }
    }

    public func tenantExists(_ tenant: String, in directory: String) throws(StoreError) -> Bool {
        try validate(tenant: tenant)
        return FileSystem.exists(Self.file(ofTenant: tenant, in: directory))
    }

    /// Deletes `tenant`'s file with its WAL and shared-memory files; the main file goes last, so a failure leaves
    /// the tenant usable.
    public func removeTenant(_ tenant: String, in directory: String) throws(StoreError) {
        try validate(tenant: tenant)
        let path = Self.file(ofTenant: tenant, in: directory)
        guard FileSystem.exists(path) else {
            throw StoreError(.notFound, "no tenant \"\(tenant)\" in \(directory)")
        }
        for file in [path + "-wal", path + "-shm", path] where unlink(file) != 0 && errno != ENOENT {
            throw StoreError(.other, "cannot delete \(file): \(FileSystem.errorText())")
        }
    }
}
