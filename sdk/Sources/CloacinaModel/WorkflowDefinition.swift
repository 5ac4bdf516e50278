/// A named graph of tasks, as a package registered it.
///
/// Tasks keep their declaration order, which breaks ties wherever the host orders them. Use ``validate()`` before
/// trusting the graph: a definition can be built with a cycle or a missing dependency, it just cannot be loaded.
public struct WorkflowDefinition: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// Tasks in declaration order.
    public var tasks: [TaskDefinition]
    /// Schedules the package declares for the workflow as defaults (ABI 1.1), in registration order.
    public var schedules: [ScheduleDefault]

    public init(
        name: String,
        description: String? = nil,
        tasks: [TaskDefinition],
        schedules: [ScheduleDefault] = []
    ) {
        self.name = name
        self.description = description
        self.tasks = tasks
        self.schedules = schedules
    }

    /// The task with id `id`.
    public func task(_ id: String) -> TaskDefinition? {
        tasks.first { $0.id == id }
    }
}
