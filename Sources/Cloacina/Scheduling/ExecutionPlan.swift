internal import Synchronization

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
    /// Each task's position in ``topologicalOrder``.
    let rank: [Int]
    let index: [String: Int]
    private let serialized = SerializedDefinition()

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
        let order = WorkflowDefinition.topologicalOrder(dependents: dependents, counts: dependencies.map(\.count))!
        var rank = [Int](repeating: 0, count: order.count)
        for (position, task) in order.enumerated() { rank[task] = position }
        self.topologicalOrder = order
        self.rank = rank
    }

    /// Whether task `a` is `b` or one of its (transitive) dependencies.
    func isAncestor(_ a: Int, orSelfOf b: Int) -> Bool {
        guard a != b else { return true }
        guard rank[a] < rank[b] else { return false }
        var seen: Set<Int> = [b]
        var stack = [b]
        while let task = stack.popLast() {
            for dependency in dependencies[task] where rank[dependency] >= rank[a] && seen.insert(dependency).inserted {
                if dependency == a { return true }
                stack.append(dependency)
            }
        }
        return false
    }

    /// The workflow definition as JSON, stored with each execution: written on first use, then shared. (Building a
    /// plan decides the order; writing the definition out is storage work, done once per plan.)
    var definitionJSON: [UInt8] {
        serialized.bytes { workflow.json.serialized() }
    }

    /// The number of tasks.
    public var count: Int { workflow.tasks.count }

    /// The definition of task `i`.
    func task(_ i: Int) -> TaskDefinition { workflow.tasks[i] }
}

/// The JSON form of a plan's definition, computed once by whichever thread needs it first.
private final class SerializedDefinition: Sendable {
    private let value = Mutex<[UInt8]?>(nil)

    func bytes(_ make: () -> [UInt8]) -> [UInt8] {
        value.withLock { cached in
            if let cached { return cached }
            let bytes = make()
            cached = bytes
            return bytes
        }
    }
}
