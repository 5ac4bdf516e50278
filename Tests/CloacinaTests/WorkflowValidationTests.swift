import Cloacina
import CloacinaModel
import Testing

@Suite("Workflow graph validation")
struct WorkflowValidationTests {
    func workflow(_ tasks: [(String, [String])]) -> WorkflowDefinition {
        WorkflowDefinition(name: "flow", tasks: tasks.map { TaskDefinition(id: $0.0, dependencies: $0.1) })
    }

    func problems(_ definition: WorkflowDefinition) -> String? {
        do {
            try definition.validate()
            return nil
        } catch {
            return error.message
        }
    }

    @Test("a diamond is valid and orders its tasks with ties in declaration order")
    func diamond() throws {
        let flow = workflow([("d", ["b", "c"]), ("c", ["a"]), ("b", ["a"]), ("a", [])])
        try flow.validate()
        #expect(flow.topologicalOrder() == ["a", "c", "b", "d"])
    }

    @Test("a cycle is named in execution order")
    func cycle() {
        let flow = workflow([("start", []), ("a", ["start", "c"]), ("b", ["a"]), ("c", ["b"])])
        #expect(problems(flow) == "workflow \"flow\" has a cycle: a → b → c → a")
        #expect(flow.topologicalOrder() == nil)
        #expect(problems(workflow([("self", ["self"])])) == "workflow \"flow\" has a cycle: self → self")
    }

    @Test("a missing dependency is named")
    func missing() {
        #expect(
            problems(workflow([("a", []), ("b", ["a", "ghost"])]))
                == "task \"b\" depends on \"ghost\", which is not a task of workflow \"flow\""
        )
    }

    @Test("duplicate ids, repeated dependencies and empty workflows are rejected")
    func duplicates() {
        #expect(problems(workflow([("a", []), ("a", [])])) == "duplicate task id \"a\" in workflow \"flow\"")
        #expect(problems(workflow([("a", []), ("b", ["a", "a"])])) == "task \"b\" lists dependency \"a\" twice")
        #expect(problems(workflow([])) == "workflow \"flow\" has no tasks")
    }

    @Test("every problem is reported at once")
    func several() {
        let message = problems(workflow([("a", ["x"]), ("a", []), ("b c", [])])) ?? ""
        #expect(message.contains("duplicate task id \"a\""))
        #expect(message.contains("depends on \"x\""))
        #expect(message.contains("invalid task id \"b c\""))
    }

    @Test("trigger rules may only name dependencies and their ancestors")
    func triggerReferences() throws {
        var flow = workflow([("fetch", []), ("charge", ["fetch"]), ("audit", []), ("cleanup", ["charge"])])
        flow.tasks[3].trigger = .any([.taskFailed("charge"), .taskSucceeded("fetch")])
        try flow.validate()
        flow.tasks[3].trigger = .all([.taskFailed("audit")])
        #expect(
            problems(flow)
                == "trigger rule of task \"cleanup\" names \"audit\", which is not one of its dependencies or their ancestors"
        )
    }

    @Test("a wide graph of ten thousand tasks validates and orders quickly enough to be used on every load")
    func wide() throws {
        var tasks: [(String, [String])] = [("root", [])]
        for index in 0..<10_000 { tasks.append(("t\(index)", ["root"])) }
        tasks.append(("sink", (0..<10_000).map { "t\($0)" }))
        let flow = workflow(tasks)
        try flow.validate()
        #expect(flow.topologicalOrder()?.count == 10_002)
        #expect(flow.topologicalOrder()?.last == "sink")
    }
}
