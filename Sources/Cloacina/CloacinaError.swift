internal import CloacinaStorage

/// An error from the engine's API: what went wrong, in a message that names the offending value.
///
/// Compare by ``code``; codes may be added in later versions. Messages never contain passwords.
public struct CloacinaError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable, Hashable {
            case invalidInput = "invalid input"
            case unknownWorkflow = "unknown workflow"
            case notFound = "not found"
            case conflict
            case configuration
            case storage
            case shuttingDown = "shutting down"
            case ownershipLost = "ownership lost"
            case unavailable
            case cancelled
        }

        fileprivate let value: Value

        /// A context, id or argument that is not acceptable (not a JSON object, an invalid tenant id, ...).
        public static let invalidInput = Code(value: .invalidInput)
        /// No registered workflow has that name.
        public static let unknownWorkflow = Code(value: .unknownWorkflow)
        /// No execution has that id.
        public static let notFound = Code(value: .notFound)
        /// A package or workflow clashes with one already registered.
        public static let conflict = Code(value: .conflict)
        /// The runner's configuration is unusable (a malformed database URL, an unwritable directory, ...).
        public static let configuration = Code(value: .configuration)
        /// The store failed; see the message.
        public static let storage = Code(value: .storage)
        /// The runner is shutting down and takes no new work.
        public static let shuttingDown = Code(value: .shuttingDown)
        /// Another runner took the execution over; this one stopped working on it.
        public static let ownershipLost = Code(value: .ownershipLost)
        /// The runner cannot take work now (its store cannot be written, say); try again later.
        public static let unavailable = Code(value: .unavailable)
        /// The caller's task was cancelled while it waited; the execution itself goes on.
        public static let cancelled = Code(value: .cancelled)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `error` as the API reports it: a URL or name a store refuses is `configuration` or `invalidInput`, a missing
    /// tenant `notFound`, a call cancelled before it started `cancelled`, a closed store `shuttingDown`, any other
    /// store failure `storage`.
    init(_ error: StoreError) {
        switch error.code {
        case .configuration: self.init(.configuration, error.message)
        case .invalidName: self.init(.invalidInput, error.message)
        case .notFound: self.init(.notFound, error.message)
        case .cancelled: self.init(.cancelled, error.message)
        case .closed: self.init(.shuttingDown, error.message)
        default: self.init(.storage, error.message)
        }
    }

    public var description: String { message }
}
