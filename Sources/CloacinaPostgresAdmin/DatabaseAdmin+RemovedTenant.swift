extension DatabaseAdmin {
    /// What ``DatabaseAdmin/removeTenant(schemaName:username:)`` removed: exactly which schema and which role.
    public struct RemovedTenant: Sendable, Hashable, CustomStringConvertible {
        /// The tenant (its schema's name).
        public var schemaName: String
        /// Whether the schema existed and was dropped with everything in it.
        public var removedSchema: Bool
        /// The login role dropped; nil when there was none.
        public var removedRole: String?
        /// A role that was not dropped (see ``keptRoleReason``): only for a tenant the registry does not know,
        /// whose role (named by the caller, or like the schema) belongs to another tenant or owns objects outside
        /// the schema.
        public var keptRole: String?
        /// Why ``keptRole`` was kept.
        public var keptRoleReason: String?

        public init(
            schemaName: String,
            removedSchema: Bool,
            removedRole: String?,
            keptRole: String? = nil,
            keptRoleReason: String? = nil
        ) {
            self.schemaName = schemaName
            self.removedSchema = removedSchema
            self.removedRole = removedRole
            self.keptRole = keptRole
            self.keptRoleReason = keptRoleReason
        }

        /// One line saying what was removed: `removed tenant acme: schema "acme" and role "acme_app"`.
        public var description: String {
            var removed: [String] = []
            if removedSchema { removed.append("schema \"\(schemaName)\"") }
            if let removedRole { removed.append("role \"\(removedRole)\"") }
            var text = "removed tenant \(schemaName): "
            text +=
                removed.isEmpty
                ? "its registry entry (its schema and role were gone)" : removed.joined(separator: " and ")
            if let keptRole { text += "; kept role \"\(keptRole)\": \(keptRoleReason ?? "")" }
            return text
        }
    }
}
