extension WorkflowDefinition {
    /// Checks the graph and throws one ``DefinitionError`` listing every problem found: an invalid name, no tasks,
    /// duplicate task ids, dependencies listed twice or naming no task, cycles (the cycle is spelled out), and
    /// trigger rules naming a task that is not an ancestor.
    public func validate() throws(DefinitionError) {
        var problems: [String] = []
        do {
            try NameRule.validate(name, as: "workflow name")
        } catch {
            problems.append(error.message)
        }
        guard !tasks.isEmpty else {
            problems.append("workflow \"\(name)\" has no tasks")
            throw DefinitionError(.invalidGraph, problems.joined(separator: "; "))
        }

        var ids: Set<String> = []
        for task in tasks {
            do {
                try NameRule.validate(task.id, as: "task id")
            } catch {
                problems.append(error.message)
            }
            if !ids.insert(task.id).inserted {
                problems.append("duplicate task id \"\(task.id)\" in workflow \"\(name)\"")
            }
        }
        var missing = false
        for task in tasks {
            // Most lists are short: scanning the earlier entries is cheaper than a set per task.
            var seen: Set<String>? = task.dependencies.count > 16 ? [] : nil
            for (position, dependency) in task.dependencies.enumerated() {
                let repeated: Bool
                if seen != nil {
                    repeated = !seen!.insert(dependency).inserted
                } else {
                    repeated = task.dependencies[..<position].contains(dependency)
                }
                if repeated {
                    problems.append("task \"\(task.id)\" lists dependency \"\(dependency)\" twice")
                } else if !ids.contains(dependency) {
                    missing = true
                    problems.append(
                        "task \"\(task.id)\" depends on \"\(dependency)\", which is not a task of workflow \"\(name)\""
                    )
                }
            }
        }
        if !missing, let cycle = findCycle() {
            problems.append("workflow \"\(name)\" has a cycle: \(cycle.joined(separator: " → "))")
        }
        if problems.isEmpty {
            problems.append(contentsOf: triggerProblems())
        }
        guard problems.isEmpty else {
            throw DefinitionError(.invalidGraph, problems.joined(separator: "; "))
        }
    }

    /// Task ids in an order where every task follows its dependencies; ties keep declaration order.
    /// Nil when the graph has a cycle or a missing dependency.
    public func topologicalOrder() -> [String]? {
        var position: [String: Int] = [:]
        for (index, task) in tasks.enumerated() { position[task.id] = position[task.id] ?? index }
        var dependents = [[Int]](repeating: [], count: tasks.count)
        for (index, task) in tasks.enumerated() {
            for dependency in task.dependencies {
                guard let parent = position[dependency] else { return nil }
                dependents[parent].append(index)
            }
        }
        return Self.topologicalOrder(dependents: dependents, counts: tasks.map(\.dependencies.count))?.map {
            tasks[$0].id
        }
    }

    /// Task indices in dependency order (ties in declaration order), from each task's dependents and number of
    /// dependencies; nil when they form a cycle.
    public static func topologicalOrder(dependents: [[Int]], counts: [Int]) -> [Int]? {
        var remaining = counts
        // A min-heap on declaration index keeps the order deterministic.
        var ready = Heap<Int>(by: <)
        for index in counts.indices where remaining[index] == 0 { ready.insert(index) }
        var order: [Int] = []
        order.reserveCapacity(counts.count)
        while let index = ready.popMin() {
            order.append(index)
            for dependent in dependents[index] {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { ready.insert(dependent) }
            }
        }
        return order.count == counts.count ? order : nil
    }

    /// One cycle, as task ids with the first repeated at the end, found by depth-first search in declaration order.
    func findCycle() -> [String]? {
        var position: [String: Int] = [:]
        for (index, task) in tasks.enumerated() where position[task.id] == nil { position[task.id] = index }
        // 0 = unvisited, 1 = on the current path, 2 = done.
        var state = [UInt8](repeating: 0, count: tasks.count)
        var path: [Int] = []
        for start in tasks.indices where state[start] == 0 {
            // Iterative DFS: each frame is a task and the next dependency to follow.
            var stack: [(task: Int, next: Int)] = [(start, 0)]
            state[start] = 1
            path.append(start)
            while let frame = stack.last {
                let dependencies = tasks[frame.task].dependencies
                guard frame.next < dependencies.count else {
                    state[frame.task] = 2
                    stack.removeLast()
                    path.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                guard let child = position[dependencies[frame.next]] else { continue }
                switch state[child] {
                case 1:
                    // Dependencies point backwards in time: reverse the path so the cycle reads in execution
                    // order, then start it at its earliest-declared task so the message is stable.
                    var loop = Array(path[path.lastIndex(of: child)!...].reversed())
                    let first = loop.indices.min { loop[$0] < loop[$1] }!
                    loop = Array(loop[first...] + loop[..<first])
                    return loop.map { tasks[$0].id } + [tasks[loop[0]].id]
                case 0:
                    state[child] = 1
                    path.append(child)
                    stack.append((child, 0))
                default:
                    break
                }
            }
        }
        return nil
    }

    /// Trigger-rule conditions that name a task which is not a dependency or an ancestor of the task.
    private func triggerProblems() -> [String] {
        var problems: [String] = []
        for task in tasks {
            guard let rule = task.trigger else { continue }
            let named = rule.conditions.compactMap(\.referencedTask)
            guard !named.isEmpty else { continue }
            let ancestors = ancestors(of: task.id)
            for reference in named where !ancestors.contains(reference) {
                problems.append(
                    "trigger rule of task \"\(task.id)\" names \"\(reference)\", which is not one of its dependencies or their ancestors"
                )
            }
        }
        return problems
    }

    /// Every task `id` transitively depends on.
    func ancestors(of id: String) -> Set<String> {
        var byID: [String: TaskDefinition] = [:]
        for task in tasks where byID[task.id] == nil { byID[task.id] = task }
        var found: Set<String> = []
        var pending = byID[id]?.dependencies ?? []
        while let next = pending.popLast() {
            guard found.insert(next).inserted else { continue }
            pending.append(contentsOf: byID[next]?.dependencies ?? [])
        }
        return found
    }
}
