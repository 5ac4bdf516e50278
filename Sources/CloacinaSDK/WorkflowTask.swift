/// One task of a ``Workflow``: an id, the tasks it runs after, options, and the code to run.
///
/// The body receives the task's context and changes it in place; what it leaves in the context is the task's
/// output. Throwing fails the task (see ``TaskFailure``). The body runs on a host thread outside Swift's
/// concurrency pool and may block; it may run on several threads at once for different executions.
public struct WorkflowTask: Sendable {
    /// The code of a task.
    public typealias Body = @Sendable (inout Context) throws -> Void

    public let id: String
    /// Ids of the tasks this one runs after; their outputs are merged into its input in this order.
    public let dependencies: [String]
    /// Retry policy; nil runs the task once.
    public let retry: RetryPolicy?
    /// Time limit per attempt; nil uses the host's default.
    public let timeout: Duration?
    /// When to run; nil runs the task only if every dependency completed.
    public let trigger: TriggerRule?
    public let description: String?
    let body: Body

    /// Declares a task.
    ///
    /// - Parameters:
    ///   - id: unique within the workflow: letters, digits, `_`, `.` and `-`, starting with a letter or `_`.
    ///   - dependencies: ids of the tasks this one runs after, in the order their outputs are merged.
    ///   - retry: how failed attempts are retried; nil for a single attempt.
    ///   - timeout: time limit per attempt; nil for the host's default.
    ///   - trigger: when the task runs once its dependencies finished; nil for "all dependencies completed".
    ///   - description: a line for listings.
    ///   - body: the task's code.
    public init(
        _ id: String,
        dependsOn dependencies: String...,
        retry: RetryPolicy? = nil,
        timeout: Duration? = nil,
        trigger: TriggerRule? = nil,
        description: String? = nil,
        _ body: @escaping Body
    ) {
        self.id = id
        self.dependencies = dependencies
        self.retry = retry
        self.timeout = timeout
        self.trigger = trigger
        self.description = description
        self.body = body
    }
}
