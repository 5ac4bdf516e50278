/// How ``StoreBackend/open(url:options:)`` opens a store: for which tenant, in which schema, with how many
/// connections, and whether a missing schema may be created.
public struct StoreOptions: Sendable, Hashable {
    /// The schema holding the store's tables, for backends with schemas (``StoreBackend/supportsSchemas``); nil for
    /// the backend's default. A backend without schemas refuses one.
    public var schema: String?
    /// The tenant the store is for; a backend with schemas uses it as the default schema.
    public var tenant: String?
    /// The most database connections the store keeps open, for backends that pool them.
    public var poolSize: Int
    /// Whether a backend with schemas creates the store's schema when it is missing (false: a missing schema is an
    /// error, as it must be for a role that may only use its own schema). Backends without schemas ignore it.
    public var createSchema: Bool

    public init(schema: String? = nil, tenant: String? = nil, poolSize: Int = 4, createSchema: Bool = true) {
        self.schema = schema
        self.tenant = tenant
        self.poolSize = poolSize
        self.createSchema = createSchema
    }
}
