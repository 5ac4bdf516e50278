/// How ``StoreBackend/open(url:options:)`` opens a store: for which tenant, in which schema, with how many
/// connections.
public struct StoreOptions: Sendable, Hashable {
    /// The schema holding the store's tables, for backends with schemas (``StoreBackend/supportsSchemas``); nil for
    /// the backend's default. A backend without schemas refuses one.
    public var schema: String?
    /// The tenant the store is for; a backend with schemas uses it as the default schema.
    public var tenant: String?
    /// The most database connections the store keeps open, for backends that pool them.
    public var poolSize: Int

    public init(schema: String? = nil, tenant: String? = nil, poolSize: Int = 4) {
        self.schema = schema
        self.tenant = tenant
        self.poolSize = poolSize
    }
}
