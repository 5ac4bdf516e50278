/// A storage failure: what the store was doing and why it failed.
///
/// Transient errors (lock contention, a dropped connection) have already been retried by the store when they
/// reach the caller. Compare by ``code``; codes may be added.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case unavailable, schema, constraint, corrupt, other
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
        /// Anything else.
        public static let other = Code(value: .other)

        public var description: String {
            switch value {
            case .unavailable: return "unavailable"
            case .schema: return "schema"
            case .constraint: return "constraint"
            case .corrupt: return "corrupt"
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
