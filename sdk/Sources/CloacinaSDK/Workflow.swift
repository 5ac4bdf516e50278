/// A named graph of tasks, declared with a result builder:
///
/// ```swift
/// Workflow("nightly_report", description: "Fetch, enrich twice in parallel, publish") {
///     WorkflowTask("fetch") { ctx in ctx["rows"] = [1, 2, 3] }
///     WorkflowTask("enrich_a", dependsOn: "fetch") { ctx in ... }
///     WorkflowTask("enrich_b", dependsOn: "fetch") { ctx in ... }
///     WorkflowTask("publish", dependsOn: "enrich_a", "enrich_b") { ctx in ... }
/// }
/// ```
///
/// The host validates the graph when it loads the package (no cycle, no missing dependency, no duplicate id).
public struct Workflow: Sendable {
    public let name: String
    public let description: String?
    /// Tasks in declaration order, which breaks ties when the host orders them.
    public let tasks: [WorkflowTask]
    /// Default schedules of the workflow (``Schedule``).
    public let schedules: [Schedule]

    public init(
        _ name: String,
        description: String? = nil,
        schedules: [Schedule] = [],
        @TaskListBuilder tasks: () -> [WorkflowTask]
    ) {
        self.name = name
        self.description = description
        self.schedules = schedules
        self.tasks = tasks()
    }
}

/// Collects the tasks of a ``Workflow``.
@resultBuilder
public enum TaskListBuilder {
    public static func buildExpression(_ task: WorkflowTask) -> [WorkflowTask] { [task] }
    public static func buildExpression(_ tasks: [WorkflowTask]) -> [WorkflowTask] { tasks }
    public static func buildBlock(_ parts: [WorkflowTask]...) -> [WorkflowTask] { parts.flatMap { $0 } }
    public static func buildArray(_ parts: [[WorkflowTask]]) -> [WorkflowTask] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [WorkflowTask]?) -> [WorkflowTask] { part ?? [] }
    public static func buildEither(first part: [WorkflowTask]) -> [WorkflowTask] { part }
    public static func buildEither(second part: [WorkflowTask]) -> [WorkflowTask] { part }
}

/// Collects the workflows of a ``WorkflowPackage``.
@resultBuilder
public enum WorkflowListBuilder {
    public static func buildExpression(_ workflow: Workflow) -> [Workflow] { [workflow] }
    public static func buildExpression(_ workflows: [Workflow]) -> [Workflow] { workflows }
    public static func buildBlock(_ parts: [Workflow]...) -> [Workflow] { parts.flatMap { $0 } }
    public static func buildArray(_ parts: [[Workflow]]) -> [Workflow] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [Workflow]?) -> [Workflow] { part ?? [] }
    public static func buildEither(first part: [Workflow]) -> [Workflow] { part }
    public static func buildEither(second part: [Workflow]) -> [Workflow] { part }
}
