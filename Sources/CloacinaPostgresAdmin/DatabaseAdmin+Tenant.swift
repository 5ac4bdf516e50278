public import CloacinaStorage

extension DatabaseAdmin {
    /// A PostgreSQL tenant as ``DatabaseAdmin/tenants()`` lists it: its schema and, when the admin's registry
    /// records it, the login role that belongs to it.
    public struct Tenant: Sendable, Hashable {
        /// The schema holding the tenant's tables (the tenant id).
        public var schemaName: String
        /// The tenant's login role, as recorded by ``DatabaseAdmin/createTenant(_:)``; nil for a tenant the
        /// registry does not know (made before it existed, or by a runner with a privileged role).
        public var roleName: String?
        /// When ``DatabaseAdmin/createTenant(_:)`` made it; nil when the registry does not know it.
        public var createdAt: Timestamp?

        public init(schemaName: String, roleName: String?, createdAt: Timestamp?) {
            self.schemaName = schemaName
            self.roleName = roleName
            self.createdAt = createdAt
        }
    }
}
