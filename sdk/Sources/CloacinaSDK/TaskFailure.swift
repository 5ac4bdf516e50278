/// An error a task throws to say how it failed.
///
/// Any other error thrown by a task fails it like ``failed(_:)``, with the error's description as the message.
/// Only the message crosses into the host, as UTF-8 text.
public struct TaskFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// How the task failed.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case failed
            case retryable
            case badInput
        }

        fileprivate let value: Value

        /// A failure; retried only under the `all_errors` retry condition.
        public static let failed = Kind(value: .failed)
        /// A transient failure worth retrying (timeouts of a remote service, lock contention, ...).
        public static let retryable = Kind(value: .retryable)
        /// The context cannot be processed; never retried.
        public static let badInput = Kind(value: .badInput)

        public var description: String {
            switch value {
            case .failed: return "failed"
            case .retryable: return "retryable"
            case .badInput: return "bad input"
            }
        }
    }

    /// How the task failed.
    public let kind: Kind
    /// The message the host records for the attempt.
    public let message: String

    /// A failure that is retried only when the task's retry condition is `all_errors`.
    public static func failed(_ message: String) -> TaskFailure { TaskFailure(kind: .failed, message: message) }
    /// A transient failure, retried under the `all_errors` and `retryable_only` conditions.
    public static func retryable(_ message: String) -> TaskFailure { TaskFailure(kind: .retryable, message: message) }
    /// Input the task cannot process; never retried.
    public static func badInput(_ message: String) -> TaskFailure { TaskFailure(kind: .badInput, message: message) }

    public var description: String { message }
}
