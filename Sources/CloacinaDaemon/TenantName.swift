public import Cloacina

/// A tenant id checked once against the rules of the daemon's storage (a SQLite file name or a PostgreSQL schema
/// name), so the layers after the one that made it (the HTTP route, say) trust it instead of checking again.
///
/// Made by ``Daemon/tenant(_:)``; whether the tenant exists or is served is a later question.
public struct TenantName: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// A name the daemon already knows to be valid (from its own state or configuration).
    init(trusted rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

extension Daemon {
    /// `name` as a tenant of this daemon's storage; throws `invalidInput` naming the rule it breaks.
    public func tenant(_ name: String) throws(CloacinaError) -> TenantName {
        try tenants.validate(name)
        return TenantName(trusted: name)
    }
}
