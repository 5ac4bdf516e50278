/// A failed PostgreSQL operation: what kind of failure, the server's SQLSTATE when there is one, the message, and
/// what was being done.
///
/// Messages never contain a password or a full connection string: connection strings appear only in their redacted
/// form (``ConnectionStringRedaction``), and libpq's own messages are scrubbed of the connection's password. Compare
/// by ``code`` and ``sqlState``; codes may be added.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case connection, server, invalidIdentifier, scope, invalidParameter, closed, outcomeUnknown
        }

        fileprivate let value: Value

        /// The connection could not be made, or broke (libpq reported an error without a server result).
        public static let connection = Code(value: .connection)
        /// The server reported an error; ``PostgresError/sqlState`` says which.
        public static let server = Code(value: .server)
        /// A schema or other identifier was refused before any SQL ran.
        public static let invalidIdentifier = Code(value: .invalidIdentifier)
        /// A session could not be confined to its schema: `current_schema()` did not name it after `SET search_path`.
        public static let scope = Code(value: .scope)
        /// A parameter value cannot be sent in text format (it contains a NUL byte).
        public static let invalidParameter = Code(value: .invalidParameter)
        /// The store, lane or connection was closed.
        public static let closed = Code(value: .closed)
        /// The connection broke while a transaction committed, and whether it committed could not be found out.
        public static let outcomeUnknown = Code(value: .outcomeUnknown)

        public var description: String {
            switch value {
            case .connection: return "connection"
            case .server: return "server"
            case .invalidIdentifier: return "invalid identifier"
            case .scope: return "scope"
            case .invalidParameter: return "invalid parameter"
            case .closed: return "closed"
            case .outcomeUnknown: return "outcome unknown"
            }
        }
    }

    public let code: Code
    /// The five-character SQLSTATE the server sent (`23505`, `40001`, ...), nil when there was no server result.
    public let sqlState: String?
    /// The server's or libpq's message (with detail and hint when the server sent them).
    public let message: String
    /// What was being done, such as `running SELECT … FROM "acme".executions` or
    /// `connecting to postgresql://app:***@db/cloacina`.
    public let context: String

    public init(_ code: Code, sqlState: String? = nil, message: String, context: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.context = context
    }

    /// Whether the connection this came from is unusable: a libpq error without a server result, a connection
    /// exception (SQLSTATE class 08), or the server shutting the session down (57P01 to 57P03).
    public var isConnectionFailure: Bool {
        if code == .connection { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    /// Whether running the whole transaction again may succeed: a serialization failure (40001) or a deadlock
    /// (40P01). Connection failures are reported by ``isConnectionFailure`` instead.
    public var isTransient: Bool {
        sqlState == "40001" || sqlState == "40P01"
    }

    public var description: String {
        let state = sqlState.map { " (SQLSTATE \($0))" } ?? ""
        return "\(context): \(message)\(state)"
    }
}
