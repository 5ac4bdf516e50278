/// What the host knows about one task of a workflow: its id, dependencies and options.
///
/// A definition is a description only; the code to run is bound separately (the host keeps task entry points
/// beside it), so definitions can be validated, compared, listed and sent between processes.
public struct TaskDefinition: Sendable, Hashable {
    public var id: String
    /// Ids of the tasks this one runs after, in declared order (the order their outputs are merged).
    public var dependencies: [String]
    /// How failed attempts are retried; ``RetryPolicy/none`` when the package gave no policy.
    public var retry: RetryPolicy
    /// Time limit per attempt; nil for the host's default.
    public var timeout: Duration?
    /// When the task runs once its dependencies finished; nil for "every dependency completed".
    public var trigger: TriggerRule?
    public var description: String?
    /// How the task's C function is called, for a native-signature task; nil for a task of the JSON ABI.
    public var native: NativeCallDescription?

    public init(
        id: String,
        dependencies: [String] = [],
        retry: RetryPolicy = .none,
        timeout: Duration? = nil,
        trigger: TriggerRule? = nil,
        description: String? = nil,
        native: NativeCallDescription? = nil
    ) {
        self.id = id
        self.dependencies = dependencies
        self.retry = retry
        self.timeout = timeout
        self.trigger = trigger
        self.description = description
        self.native = native
    }
}
