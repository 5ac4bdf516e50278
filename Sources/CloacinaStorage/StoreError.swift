/// A storage failure: what the store was doing and why it failed; also why a database URL or a tenant name cannot
/// be used (from a ``StoreRegistry`` or a ``StoreBackend``).
///
/// Transient errors (lock contention, a dropped connection) have already been retried by the store when they
/// reach the caller. Compare by ``code``; codes may be added. Messages never contain passwords.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case unavailable, schema, constraint, corrupt, configuration, invalidName, notFound, closed, cancelled,
                other
        }

        fileprivate let value: Value

        /// The database cannot be opened or reached.
        public static let unavailable = Code(value: .unavailable)
        /// The schema is missing, too new, or a migration failed.
        public static let schema = Code(value: .schema)
        /// A write broke a constraint (a duplicate id, say).
        public static let constraint = Code(value: .constraint)
        /// The stored data cannot be read back.
        public static let corrupt = Code(value: .corrupt)
        /// A database URL or setting no store can use: an unknown scheme, a malformed URL, a schema where the
        /// store has none.
        public static let configuration = Code(value: .configuration)
        /// A tenant name the store's naming rule refuses.
        public static let invalidName = Code(value: .invalidName)
        /// The tenant has no store.
        public static let notFound = Code(value: .notFound)
        /// The store (or the queue of the connection the call needed) is closed.
        public static let closed = Code(value: .closed)
        /// The caller's task was cancelled before the call started; nothing was done.
        public static let cancelled = Code(value: .cancelled)
        /// Anything else.
        public static let other = Code(value: .other)

        public var description: String {
            switch value {
            case .unavailable: return "unavailable"
            case .schema: return "schema"
            case .constraint: return "constraint"
            case .corrupt: return "corrupt"
            case .configuration: return "configuration"
            case .invalidName: return "invalid name"
            case .notFound: return "not found"
            case .closed: return "closed"
            case .cancelled: return "cancelled"
            case .other: return "other"
            }
        }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
