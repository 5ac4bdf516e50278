internal import CloacinaStorage

/// What ``DatabaseAdmin/createTenant(_:)`` creates: a schema for the tenant's tables and a login role for it.
///
/// Both names follow the PostgreSQL identifier rule (`^[a-z_][a-z0-9_]{0,62}$`, reserved names refused); they are
/// checked before any SQL runs. An empty password asks for a strong generated one. Printing a configuration never
/// shows its password.
public struct TenantConfig: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The schema holding the tenant's tables.
    public var schemaName: String
    /// The login role the tenant connects as.
    public var username: String
    /// The role's password; "" to have one generated (see ``TenantCredentials/password``).
    public var password: String

    public init(schemaName: String, username: String, password: String = "") {
        self.schemaName = schemaName
        self.username = username
        self.password = password
    }

    public var description: String {
        "TenantConfig(schemaName: \(schemaName), username: \(username), password: \(password.isEmpty ? "generate" : "***"))"
    }

    public var debugDescription: String { description }
}

/// How a tenant created by ``DatabaseAdmin/createTenant(_:)`` connects: its role, password, schema, and a
/// connection string for ``DefaultRunner/withSchema(_:_:)``.
///
/// The connection string is a `postgresql://` URL naming the admin connection's host, port and database (a
/// socket directory goes in the `host` parameter), the admin URL's transport parameters (`sslmode`, `sslrootcert`,
/// `connect_timeout`, …) and the tenant's role and password, percent-encoded. It holds the password: keep it where
/// secrets go. Printing credentials never shows the password.
public struct TenantCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var username: String
    /// The password as given, or the generated one: 40 characters from `[A-Za-z0-9]`, from the system's
    /// cryptographic random source.
    public var password: String
    public var schemaName: String
    /// A URL that logs in as ``username`` with ``password``.
    public var connectionString: String

    public init(username: String, password: String, schemaName: String, connectionString: String) {
        self.username = username
        self.password = password
        self.schemaName = schemaName
        self.connectionString = connectionString
    }

    /// ``connectionString`` with its password replaced by `***`, for messages and logs.
    public var redactedConnectionString: String { ConnectionStringRedaction.redact(connectionString) }

    public var description: String {
        "TenantCredentials(username: \(username), password: ***, schemaName: \(schemaName), "
            + "connectionString: \(redactedConnectionString))"
    }

    public var debugDescription: String { description }
}
