/// A kind of store, chosen by the scheme of a database URL: it checks its URLs, opens its stores, and says how the
/// tenants of a deployment map onto them. The SQLite and PostgreSQL stores each provide one, and a
/// ``StoreRegistry`` maps URL schemes to them; a test can register one of its own.
///
/// The tenants of one deployment live in a *tenant space* the backend defines (a directory of files, a database of
/// schemas); ``tenantSpace(of:)`` finds it from any of its URLs. Methods that reach a database or the file system
/// block their thread: call them off Swift's cooperative pool. No message contains a password.
public protocol StoreBackend: Sendable {
    /// The backend's name in messages: "SQLite".
    var name: String { get }
    /// The URL schemes it serves (what comes before the first `:`): `["sqlite"]`.
    var schemes: [String] { get }
    /// A URL of the backend's form, for messages: `sqlite:///path/to/file.db`.
    var exampleURL: String { get }
    /// Whether several stores share one database, each in a schema of its own (then a tenant is a schema); otherwise
    /// a tenant is a store of its own.
    var supportsSchemas: Bool { get }

    /// Throws `configuration` naming what is wrong with `url`, a URL of one of ``schemes``.
    func validate(url: String) throws(StoreError)
    /// `connectionString` as a URL this backend opens: a URL of one of ``schemes`` as it is (validated), or another
    /// form of connection string the backend accepts (libpq's `key=value` form for PostgreSQL) rewritten as one.
    /// Throws `configuration` when it is neither; the message never shows the string beyond its redacted form.
    func url(forConnectionString connectionString: String) throws(StoreError) -> String
    /// `url` for messages and logs, with every secret replaced by `***`.
    func redacted(_ url: String) -> String
    /// Opens the store `url` names (creating it, or its tables, when missing) as `options` say. Every failure's
    /// message names the store (redacted).
    func open(url: String, options: StoreOptions) throws(StoreError) -> any ExecutionStore

    /// The tenant space the store at `url` belongs to: what ``store(ofTenant:in:)``, ``tenants(in:)`` and the others
    /// take.
    func tenantSpace(of url: String) throws(StoreError) -> String
    /// Throws `invalidName` naming the rule when `tenant` cannot name a tenant of this backend.
    func validate(tenant: String) throws(StoreError)
    /// Where `tenant`'s store is in `space`: a URL, and the schema for backends with schemas.
    func store(ofTenant tenant: String, in space: String) -> (url: String, schema: String?)
    /// The tenants with a store in `space`, sorted.
    func tenants(in space: String) throws(StoreError) -> [String]
    /// Whether `tenant` has a store in `space`.
    func tenantExists(_ tenant: String, in space: String) throws(StoreError) -> Bool
    /// Deletes `tenant`'s store in `space`, with everything in it; throws `notFound` when it has none. A backend whose
    /// tenants are removed some other way (with their database roles, say) throws `configuration` saying how.
    func removeTenant(_ tenant: String, in space: String) throws(StoreError)
}

extension StoreBackend {
    /// `url` with the passwords ``ConnectionStringRedaction`` finds replaced.
    public func redacted(_ url: String) -> String { ConnectionStringRedaction.redact(url) }

    /// `connectionString` itself, once ``validate(url:)`` accepts it: a backend with no other form of connection
    /// string.
    public func url(forConnectionString connectionString: String) throws(StoreError) -> String {
        try validate(url: connectionString)
        return connectionString
    }

    public func tenantExists(_ tenant: String, in space: String) throws(StoreError) -> Bool {
        try tenants(in: space).contains(tenant)
    }

    /// Whether `url`'s scheme is one of ``schemes``.
    public func serves(_ url: String) -> Bool {
        StoreRegistry.scheme(of: url).map(schemes.contains) ?? false
    }
}
