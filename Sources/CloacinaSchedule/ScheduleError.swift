/// Why a cron expression or a schedule cannot be accepted: the message names the field and the offending token, the
/// time zone, or the dates.
///
/// Compare by ``code``; codes may be added. It describes input only: computing fire times never fails.
public struct ScheduleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable, Hashable {
            case invalidExpression = "invalid expression"
            case neverFires = "never fires"
            case unknownTimeZone = "unknown time zone"
            case invalidBounds = "invalid bounds"
        }

        fileprivate let value: Value

        /// The text is not a cron expression: a wrong number of fields, a malformed token, a value out of range, an
        /// unknown name or macro.
        public static let invalidExpression = Code(value: .invalidExpression)
        /// The expression is well formed but no date ever matches it (`0 0 30 2 *`).
        public static let neverFires = Code(value: .neverFires)
        /// The time zone identifier is not one the system's zone data knows.
        public static let unknownTimeZone = Code(value: .unknownTimeZone)
        /// The schedule ends before it starts.
        public static let invalidBounds = Code(value: .invalidBounds)

        public var description: String { value.rawValue }
    }

    /// The kind of problem.
    public let code: Code
    /// What is wrong, naming the offending value.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
