internal import Cloacina
internal import CloacinaPostgres

/// Names, passwords and connection strings of ``DatabaseAdmin``'s tenants.
extension DatabaseAdmin {
    /// Role names PostgreSQL reserves or that would be confusing, beyond the identifier rule.
    static let reservedRoleNames: Set<String> = ["postgres", "none", "current_user", "current_role", "session_user"]

    /// `name` validated by the identifier rule; `invalidInput` saying why not.
    static func identifier(_ name: String, kind: String) throws(CloacinaError) -> PostgresIdentifier {
        do throws(PostgresError) {
            return try PostgresIdentifier(name, kind: kind)
        } catch {
            throw CloacinaError(.invalidInput, "\(error.context): \(error.message)")
        }
    }

    /// `name` validated as a tenant's schema name: the identifier rule, and not the registry's schema.
    static func schemaIdentifier(_ name: String) throws(CloacinaError) -> PostgresIdentifier {
        let schema = try identifier(name, kind: "schema")
        guard name != registrySchema else {
            throw CloacinaError(
                .invalidInput,
                "refusing the schema name \"\(name)\": the name is reserved (it holds the tenant registry)"
            )
        }
        return schema
    }

    /// `name` validated as a role name: the identifier rule, and none of ``reservedRoleNames``.
    static func roleIdentifier(_ name: String) throws(CloacinaError) -> PostgresIdentifier {
        let role = try identifier(name, kind: "role")
        guard !reservedRoleNames.contains(name) else {
            throw CloacinaError(.invalidInput, "refusing the role name \"\(name)\": the name is reserved")
        }
        return role
    }

    /// 40 characters from `[A-Za-z0-9]` (about 238 bits), drawn uniformly from the system's cryptographic random
    /// source (`getrandom` on Linux).
    static func generatedPassword() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<40).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

/// How ``DatabaseAdmin`` writes a tenant's connection string: the host, port and database the admin connection
/// actually uses, and the admin URL's parameters that say how to reach and trust the server.
struct ConnectionTemplate: Sendable, Hashable {
    /// The admin URL parameters a tenant's connection string keeps: how to reach and trust the server, never who
    /// logs in (no user, password, passfile, service, client certificate or key, or session options).
    static let keptKeywords: Set<String> = [
        "sslmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "sslnegotiation", "sslcompression",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "requiressl", "gssencmode", "krbsrvname",
        "gsslib", "channel_binding", "require_auth", "connect_timeout", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "target_session_attrs", "application_name",
    ]

    /// One `keyword=value` parameter of a connection string.
    struct Parameter: Sendable, Hashable {
        var keyword: String
        var value: String
    }

    /// The kept parameters of the admin URL, in its order.
    let keptParameters: [Parameter]
    /// Whether the admin URL names a `hostaddr`, which tenants then use too.
    let namesHostAddress: Bool

    /// The template for an admin URL that sets `adminParameters` (as libpq parsed them).
    init(adminParameters: [(keyword: String, value: String)]) {
        keptParameters = adminParameters.filter { Self.keptKeywords.contains($0.keyword) }.map {
            Parameter(keyword: $0.keyword, value: $0.value)
        }
        namesHostAddress = adminParameters.contains { $0.keyword == "hostaddr" }
    }

    /// A `postgresql://` URL logging in as `user` with `password` to the host, port and database `connection`
    /// actually uses, with the admin URL's kept parameters.
    func connectionString(user: String, password: String, via connection: PostgresConnection) -> String {
        var query: [(String, String)] = []
        var authority = ""
        if let host = connection.host {
            if host.hasPrefix("/") || host.hasPrefix("@") {
                query.append(("host", host))
                if let port = connection.port { query.append(("port", port)) }
            } else {
                authority = host.contains(":") ? "[\(host)]" : host
                if let port = connection.port { authority += ":\(port)" }
            }
        }
        if namesHostAddress, let address = connection.hostAddress { query.append(("hostaddr", address)) }
        query += keptParameters.map { ($0.keyword, $0.value) }
        let credentials =
            "\(PostgresConnectionString.percentEncoded(user)):\(PostgresConnectionString.percentEncoded(password))"
        let database = connection.database.map(PostgresConnectionString.percentEncoded) ?? ""
        let parameters = query.map { "\($0.0)=\(PostgresConnectionString.percentEncoded($0.1))" }.joined(separator: "&")
        return "postgresql://\(credentials)@\(authority)/\(database)" + (parameters.isEmpty ? "" : "?\(parameters)")
    }
}
