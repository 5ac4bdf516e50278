/// A validated workflow in the index-based form the scheduler works with, built once per workflow and shared by
/// all its executions.
///
/// Task `i` is the workflow's `i`-th declared task. Building a plan validates the workflow and fixes its
/// topological order (ties in declaration order), which is the order outputs are folded into the final context.
public struct ExecutionPlan: Sendable {
    public let workflow: WorkflowDefinition
    /// Indices of each task's dependencies, in declared order.
    let dependencies: [[Int]]
    /// Indices of the tasks that depend on each task.
    let dependents: [[Int]]
    /// Task indices, dependencies first, ties in declaration order.
    let topologicalOrder: [Int]
    let index: [String: Int]
    /// The workflow definition as JSON, stored with each execution.
    let definitionJSON: [UInt8]

    /// Validates `workflow` and builds its plan.
    public init(_ workflow: WorkflowDefinition) throws(DefinitionError) {
        try workflow.validate()
        var index: [String: Int] = [:]
        for (position, task) in workflow.tasks.enumerated() { index[task.id] = position }
        let dependencies = workflow.tasks.map { task in task.dependencies.map { index[$0]! } }
        var dependents = [[Int]](repeating: [], count: workflow.tasks.count)
        for (position, list) in dependencies.enumerated() {
            for dependency in list { dependents[dependency].append(position) }
        }
        self.workflow = workflow
        self.index = index
        self.dependencies = dependencies
        self.dependents = dependents
        self.topologicalOrder = workflow.topologicalOrder()!.map { index[$0]! }
        self.definitionJSON = workflow.json.serialized()
    }

    /// The number of tasks.
    public var count: Int { workflow.tasks.count }

    /// The definition of task `i`.
    func task(_ i: Int) -> TaskDefinition { workflow.tasks[i] }
}
