/// A workflow, task, retry policy or trigger rule definition that cannot be accepted.
///
/// The message names the offending value and says what was expected. Compare errors by ``code``; new codes may be
/// added in later versions.
public struct DefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case invalidName
            case invalidRetryPolicy
            case invalidTriggerRule
            case invalidGraph
        }

        fileprivate let value: Value

        /// A workflow, task or package name breaks the naming rule.
        public static let invalidName = Code(value: .invalidName)
        /// A retry policy has an unknown or out-of-range setting.
        public static let invalidRetryPolicy = Code(value: .invalidRetryPolicy)
        /// A trigger rule is not valid JSON of the documented shape, or names a task it cannot see.
        public static let invalidTriggerRule = Code(value: .invalidTriggerRule)
        /// A workflow graph is empty, has a cycle, a missing dependency or a duplicate task id.
        public static let invalidGraph = Code(value: .invalidGraph)

        public var description: String {
            switch value {
            case .invalidName: return "invalid name"
            case .invalidRetryPolicy: return "invalid retry policy"
            case .invalidTriggerRule: return "invalid trigger rule"
            case .invalidGraph: return "invalid workflow graph"
            }
        }
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
