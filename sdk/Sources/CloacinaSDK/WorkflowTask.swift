/// One task of a ``Workflow``: an id, the tasks it runs after, options, and the code to run.
///
/// The body receives the task's context and changes it in place; what it leaves in the context is the task's
/// output. Throwing fails the task (see ``TaskFailure``). The body runs on a host thread outside Swift's
/// concurrency pool and may block; it may run on several threads at once for different executions.
///
/// A body may also be `async`: it can `await` an HTTP client, a database driver or `Task.sleep`. It still runs on
/// the host thread that called the task, start to end (see ``CallingThreadExecutor``), and the host's cancellation
/// (a time limit, a cancelled execution, shutdown) cancels it, so `Task.checkCancellation()` and cancellable
/// awaits stop; a body that ends with `CancellationError` fails the attempt.
public struct WorkflowTask: Sendable {
    /// The code of a task.
    public typealias Body = @Sendable (inout Context) throws -> Void
    /// The code of an `async` task.
    public typealias AsyncBody = @Sendable (inout Context) async throws -> Void

    /// The task's id, dependencies and options, as the host will see them.
    public let definition: TaskDefinition
    let body: Body

    public var id: String { definition.id }
    /// Ids of the tasks this one runs after; their outputs are merged into its input in this order.
    public var dependencies: [String] { definition.dependencies }

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
        self.init(
            definition: TaskDefinition(
                id: id,
                dependencies: dependencies,
                retry: retry ?? .none,
                timeout: timeout,
                trigger: trigger,
                description: description
            ),
            body: body
        )
    }

    private init(definition: TaskDefinition, body: @escaping Body) {
        self.definition = definition
        self.body = body
    }

    /// Declares a task whose body is `async`, with the same parameters as the synchronous form.
    public init(
        _ id: String,
        dependsOn dependencies: String...,
        retry: RetryPolicy? = nil,
        timeout: Duration? = nil,
        trigger: TriggerRule? = nil,
        description: String? = nil,
        _ body: @escaping AsyncBody
    ) {
        // The same declaration as the synchronous form, whose body runs the async one here.
        let declared = WorkflowTask(id, retry: retry, timeout: timeout, trigger: trigger, description: description) {
            _ in
        }
        var definition = declared.definition
        definition.dependencies = dependencies
        self.init(definition: definition) { context in
            let probe = context.cancellationProbe
            try CallingThreadExecutor.run(body, on: &context) { probe.isCancelled }
        }
    }
}
