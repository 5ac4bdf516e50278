internal import CPostgreSQL
internal import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

/// What an administrator needs beyond running statements: where the connection actually went (after libpq applied
/// its defaults, the `PG*` variables and socket directories), quoting values into utility statements (which take no
/// parameters), and computing password verifiers here rather than on the server.
extension PostgresConnection {
    /// The server host in use (`PQhost`): a name or address, or a Unix-socket directory (starting with `/`, or `@`
    /// for an abstract socket). Nil when libpq reports none.
    public var host: String? { Self.text(PQhost(handle)) }

    /// The server's IP address in use (`PQhostaddr`); nil over a Unix socket.
    public var hostAddress: String? { Self.text(PQhostaddr(handle)) }

    /// The server port in use (`PQport`).
    public var port: String? { Self.text(PQport(handle)) }

    /// The database in use (`PQdb`).
    public var database: String? { Self.text(PQdb(handle)) }

    /// The role the session logged in as (`PQuser`).
    public var user: String? { Self.text(PQuser(handle)) }

    /// `text` as an SQL string literal, quoted and escaped by libpq (`PQescapeLiteral`) for this connection's
    /// encoding and settings. The error never contains `text`.
    public func literal(_ text: String) throws(PostgresError) -> String {
        guard !text.utf8.contains(0) else {
            throw PostgresError(
                .invalidParameter,
                message: "the value contains a NUL byte, which PostgreSQL text cannot hold",
                context: "quoting a literal"
            )
        }
        let escaped = text.withCString { PQescapeLiteral(handle, $0, strlen($0)) }
        guard let escaped else {
            throw PostgresError(
                isOpen ? .server : .connection,
                message: Self.scrubbed(lastError, password: text),
                context: "quoting a literal"
            )
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    /// The SCRAM-SHA-256 verifier of `password` for `user` (`PQencryptPasswordConn`), computed in this process so
    /// that the password itself is never sent to the server: `CREATE ROLE … PASSWORD '<verifier>'` stores it as
    /// is. Each call uses a fresh random salt. The error never contains the password.
    public func scramVerifier(password: String, user: String) throws(PostgresError) -> String {
        guard !password.utf8.contains(0), !user.utf8.contains(0) else {
            throw PostgresError(
                .invalidParameter,
                message: "the password or user name contains a NUL byte",
                context: "computing a password verifier"
            )
        }
        guard let verifier = PQencryptPasswordConn(handle, password, user, "scram-sha-256") else {
            throw PostgresError(
                isOpen ? .server : .connection,
                message: Self.scrubbed(lastError, password: password),
                context: "computing a password verifier"
            )
        }
        defer { PQfreemem(verifier) }
        return String(cString: verifier)
    }

    /// The parameters `conninfo` (a URL or `key=value` string) sets itself, as libpq parses it (`PQconninfoParse`):
    /// keyword and value, in libpq's order, without defaults or environment variables. Throws
    /// ``PostgresError/Code/invalidParameter`` with libpq's reason when it does not parse; the reason never shows a
    /// password.
    public static func parameters(of conninfo: String) throws(PostgresError) -> [(keyword: String, value: String)] {
        var failure: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &failure) else {
            var reason = failure.map { String(cString: $0) } ?? "libpq is out of memory"
            if let failure { PQfreemem(failure) }
            reason = scrubbed(reason, conninfo, nil)
            throw PostgresError(
                .invalidParameter,
                message: reason.split(whereSeparator: \.isNewline).joined(separator: " "),
                context: "parsing the connection string \(ConnectionStringRedaction.redact(conninfo))"
            )
        }
        defer { PQconninfoFree(options) }
        var parameters: [(keyword: String, value: String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                parameters.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        return parameters
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        let text = String(cString: pointer)
        return text.isEmpty ? nil : text
    }
}
