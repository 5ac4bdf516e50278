import CloacinaStorage
import Testing

@testable import Cloacina

/// Drives a state machine by hand: no database, no clock, no threads.
struct Harness {
    var machine: ExecutionStateMachine
    /// Attempts handed out and not reported yet, by task id.
    var running: [String: (attempt: Int, input: ContextSnapshot)] = [:]
    var retries: [String: (attempt: Int, at: Timestamp)] = [:]
    var stopped: [(String, Int)] = []
    var writes: [StoreWrite] = []
    var finished: ExecutionStatus?
    var now = Timestamp(milliseconds: 1_000)

    init(_ tasks: [TaskDefinition], input: [String: JSONValue] = [:]) throws {
        let plan = try ExecutionPlan(WorkflowDefinition(name: "flow", tasks: tasks))
        machine = ExecutionStateMachine(id: "exec", plan: plan, input: ContextSnapshot(input))
    }

    func id(_ task: Int) -> String { machine.plan.task(task).id }
    func index(_ id: String) -> Int { machine.plan.index[id]! }
    func status(_ id: String) -> TaskStatus { machine.tasks[index(id)].status }
    var runningIDs: Set<String> { Set(running.keys) }

    mutating func apply(_ actions: [ExecutionStateMachine.Action]) {
        for action in actions {
            switch action {
            case .run(let task, let attempt, let input):
                running[id(task)] = (attempt, input)
            case .retry(let task, let attempt, let at):
                retries[id(task)] = (attempt, at)
            case .stop(let task, let attempt):
                stopped.append((id(task), attempt))
                running[id(task)] = nil
            case .persist(let batch):
                #expect(finished == nil, "nothing may be persisted after the execution finished")
                writes.append(contentsOf: batch)
            case .finished(let status):
                #expect(finished == nil)
                finished = status
            }
        }
    }

    mutating func start() { apply(machine.start(now: now)) }

    /// Completes the running attempt of `task`, adding `set` to its input as its output.
    mutating func succeed(_ task: String, set: [String: JSONValue] = [:]) {
        let (attempt, input) = running.removeValue(forKey: task)!
        var output = input.object
        for (key, value) in set { output[key] = value }
        now.milliseconds += 10
        apply(
            machine.taskSucceeded(
                index(task),
                attempt: attempt,
                output: set.isEmpty ? input : ContextSnapshot(output),
                startedAt: now,
                now: now
            )
        )
    }

    mutating func fail(_ task: String, _ failure: ExecutionStateMachine.Failure = .failed, message: String = "boom") {
        let (attempt, _) = running.removeValue(forKey: task)!
        now.milliseconds += 10
        apply(
            machine.taskFailed(
                index(task),
                attempt: attempt,
                failure: failure,
                message: message,
                startedAt: now,
                now: now
            )
        )
    }

    mutating func fireRetry(_ task: String) {
        let (attempt, at) = retries.removeValue(forKey: task)!
        now = at
        apply(machine.retryDue(index(task), attempt: attempt, now: now))
    }

    var finalContext: [String: JSONValue]? { machine.finalContext?.object }

    func events(_ kind: ExecutionEvent.Kind) -> [String] {
        writes.compactMap {
            if case .appendEvent(let event) = $0, event.kind == kind { return event.taskID ?? "" }
            return nil
        }
    }
}

func task(
    _ id: String,
    _ dependencies: String...,
    retry: RetryPolicy = .none,
    trigger: TriggerRule? = nil
) -> TaskDefinition {
    TaskDefinition(id: id, dependencies: dependencies, retry: retry, trigger: trigger)
}

@Suite("Execution state machine")
struct ExecutionStateMachineTests {
    @Test("a chain runs one task at a time, each seeing what the previous wrote")
    func chain() throws {
        var h = try Harness([task("a"), task("b", "a"), task("c", "b")], input: ["seed": 1])
        h.start()
        #expect(h.runningIDs == ["a"])
        #expect(h.running["a"]?.input.object == ["seed": 1])
        h.succeed("a", set: ["a": true])
        #expect(h.runningIDs == ["b"])
        #expect(h.running["b"]?.input.object == ["seed": 1, "a": true])
        h.succeed("b", set: ["b": true])
        h.succeed("c", set: ["c": true])
        #expect(h.finished == .completed)
        #expect(h.finalContext == ["seed": 1, "a": true, "b": true, "c": true])
        #expect(h.machine.status == .completed)
    }

    @Test("a diamond starts both branches at once and joins them after both finished")
    func diamond() throws {
        var h = try Harness([task("top"), task("left", "top"), task("right", "top"), task("join", "left", "right")])
        h.start()
        h.succeed("top", set: ["x": 0])
        #expect(h.runningIDs == ["left", "right"])
        h.succeed("right", set: ["r": 1])
        #expect(h.runningIDs == ["left"], "join waits for both branches")
        h.succeed("left", set: ["l": 1])
        #expect(h.runningIDs == ["join"])
        #expect(h.running["join"]?.input.object == ["x": 0, "l": 1, "r": 1])
        h.succeed("join")
        #expect(h.finished == .completed)
    }

    @Test("fan-out and fan-in: every root starts at once; the join merges in declared dependency order")
    func mergeOrder() throws {
        var h = try Harness(
            [task("a"), task("b"), task("c"), task("join", "c", "a", "b")],
            input: ["k": "input", "only_input": true]
        )
        h.start()
        #expect(h.runningIDs == ["a", "b", "c"])
        // Finish in an order unrelated to the declared order.
        h.succeed("b", set: ["k": "b", "from_b": 1])
        h.succeed("a", set: ["k": "a"])
        h.succeed("c", set: ["k": "c", "from_b": 3])
        // Declared order c, a, b: b is last, so b wins "k" and "from_b".
        #expect(h.running["join"]?.input.object == ["k": "b", "from_b": 1, "only_input": true])
        h.succeed("join")
        // Final context: every delta in topological order (a, b, c, join; ties by declaration), later wins; join
        // passed its input on unchanged, so it changes nothing.
        #expect(h.finalContext == ["k": "c", "from_b": 3, "only_input": true])
    }

    @Test("the final context folds outputs in topological order, ties by declaration")
    func finalContextOrder() throws {
        var h = try Harness([task("late", "early"), task("early"), task("other")])
        h.start()
        h.succeed("other", set: ["k": "other"])
        h.succeed("early", set: ["k": "early"])
        h.succeed("late", set: ["k": "late"])
        // Topological order: early, late (after early), other (declared after both) → other wins.
        #expect(h.finalContext?["k"] == "other")
    }

    @Test("a failure skips its dependents and their dependents, the rest carries on, and the execution fails")
    func failurePropagation() throws {
        var h = try Harness([task("a"), task("b", "a"), task("c", "b"), task("side")])
        h.start()
        h.fail("a", message: "disk full")
        #expect(h.status("b") == .skipped)
        #expect(h.status("c") == .skipped)
        #expect(h.runningIDs == ["side"])
        #expect(h.finished == nil)
        h.succeed("side", set: ["side": true])
        #expect(h.finished == .failed)
        #expect(h.machine.tasks[h.index("a")].error == "disk full")
        #expect(h.events(.taskSkipped) == ["b", "c"])
        #expect(h.finalContext == ["side": true])
    }

    @Test("a cleanup task runs by trigger rule after a failure; the execution still fails")
    func cleanupAfterFailure() throws {
        let rule = TriggerRule.any([.taskFailed("charge"), .taskSkipped("charge")])
        var h = try Harness([task("charge"), task("ship", "charge"), task("cleanup", "charge", trigger: rule)])
        h.start()
        h.fail("charge")
        #expect(h.status("ship") == .skipped)
        #expect(h.runningIDs == ["cleanup"])
        h.succeed("cleanup", set: ["cleaned": true])
        #expect(h.finished == .failed, "a failed task fails the execution even when cleanup succeeded")
    }

    @Test("the cleanup rule skips the cleanup when nothing failed")
    func cleanupNotNeeded() throws {
        let rule = TriggerRule.any([.taskFailed("charge")])
        var h = try Harness([task("charge"), task("cleanup", "charge", trigger: rule)])
        h.start()
        h.succeed("charge")
        #expect(h.status("cleanup") == .skipped)
        #expect(h.finished == .completed)
    }

    @Test(
        "context conditions decide whether a task runs, with every operator",
        arguments: [
            (ContextOperator.equals, JSONValue.string("gold"), true),
            (.equals, "silver", false),
            (.notEquals, "silver", true),
            (.greaterThan, 100, true),
            (.greaterThan, 500, false),
            (.lessThan, 500, true),
            (.lessThan, 100, false),
            (.contains, "priority", true),
            (.contains, "slow", false),
            (.notContains, "slow", true),
            (.notContains, "priority", false),
        ]
    )
    func contextOperators(op: ContextOperator, value: JSONValue, runs: Bool) throws {
        let key: String
        switch op {
        case .equals, .notEquals: key = "tier"
        case .greaterThan, .lessThan: key = "amount"
        default: key = "tags"
        }
        let rule = TriggerRule.all([.contextValue(key: key, operator: op, value: value)])
        var h = try Harness([task("load"), task("bonus", "load", trigger: rule)])
        h.start()
        h.succeed("load", set: ["tier": "gold", "amount": 250, "tags": ["priority", "new"]])
        #expect(h.status("bonus") == (runs ? .running : .skipped))
    }

    @Test("exists and not_exists, and conditions on a root task read the execution's input")
    func existence() throws {
        var h = try Harness(
            [
                task("when_flag", trigger: .all([.contextValue(key: "flag", operator: .exists, value: nil)])),
                task("unless_flag", trigger: .all([.contextValue(key: "flag", operator: .notExists, value: nil)])),
            ],
            input: ["flag": false]
        )
        h.start()
        #expect(h.runningIDs == ["when_flag"])
        #expect(h.status("unless_flag") == .skipped)
    }

    @Test("retries follow the policy's backoff, then the task completes")
    func retriesThenSuccess() throws {
        let policy = RetryPolicy(
            maxAttempts: 3,
            backoff: .exponential(multiplier: 2),
            initialDelay: .milliseconds(100),
            maxDelay: .seconds(10)
        )
        var h = try Harness([task("flaky", retry: policy), task("after", "flaky")])
        h.start()
        h.fail("flaky", .retryable)
        #expect(h.status("flaky") == .retrying)
        #expect(h.retries["flaky"]?.attempt == 2)
        #expect(h.retries["flaky"]?.at == Timestamp(milliseconds: h.now.milliseconds + 100))
        #expect(h.runningIDs.isEmpty)
        h.fireRetry("flaky")
        #expect(h.running["flaky"]?.attempt == 2)
        h.fail("flaky")
        #expect(h.retries["flaky"]?.at == Timestamp(milliseconds: h.now.milliseconds + 200))
        h.fireRetry("flaky")
        h.succeed("flaky")
        #expect(h.machine.tasks[h.index("flaky")].attempt == 3)
        h.succeed("after")
        #expect(h.finished == .completed)
    }

    @Test("retries stop at max attempts, bad input is never retried, retryable-only ignores plain failures")
    func retryLimits() throws {
        var h = try Harness([task("a", retry: RetryPolicy(maxAttempts: 2, initialDelay: .zero))])
        h.start()
        h.fail("a")
        h.fireRetry("a")
        h.fail("a")
        #expect(h.status("a") == .failed)
        #expect(h.finished == .failed)

        var bad = try Harness([task("a", retry: RetryPolicy(maxAttempts: 5))])
        bad.start()
        bad.fail("a", .badInput)
        #expect(bad.status("a") == .failed)

        var only = try Harness([task("a", retry: RetryPolicy(maxAttempts: 5, condition: .retryableOnly))])
        only.start()
        only.fail("a", .failed)
        #expect(only.status("a") == .failed)
    }

    @Test("a timed-out attempt is told to stop, retried, and its late result is ignored")
    func timeout() throws {
        var h = try Harness([task("slow", retry: RetryPolicy(maxAttempts: 2, initialDelay: .zero))])
        h.start()
        let first = h.running["slow"]!
        h.apply(
            h.machine.taskTimedOut(
                h.index("slow"),
                attempt: first.attempt,
                after: .seconds(5),
                startedAt: h.now,
                now: h.now
            )
        )
        #expect(h.stopped.map(\.0) == ["slow"])
        #expect(h.machine.tasks[h.index("slow")].error == "timed out after 5 s")
        // The first attempt answers late: ignored.
        #expect(
            h.machine.taskSucceeded(
                h.index("slow"),
                attempt: first.attempt,
                output: first.input,
                startedAt: h.now,
                now: h.now
            ).isEmpty
        )
        h.fireRetry("slow")
        #expect(h.running["slow"]?.attempt == 2)
        let second = h.running.removeValue(forKey: "slow")!
        h.apply(
            h.machine.taskTimedOut(
                h.index("slow"),
                attempt: second.attempt,
                after: .milliseconds(1500),
                startedAt: h.now,
                now: h.now
            )
        )
        #expect(h.status("slow") == .failed)
        #expect(h.machine.tasks[h.index("slow")].error == "timed out after 1500 ms")
        #expect(h.finished == .failed)
    }

    @Test("cancelling stops running attempts, cancels the rest, ignores late results and later events")
    func cancellation() throws {
        var h = try Harness([task("a"), task("b"), task("c", "a", "b"), task("r", retry: RetryPolicy(maxAttempts: 3))])
        h.start()
        h.succeed("a")
        h.fail("r")
        let b = h.running["b"]!
        h.apply(h.machine.cancel(reason: "cancelled by user", now: h.now))
        #expect(h.stopped.map(\.0) == ["b"])
        #expect(h.status("b") == .cancelled)
        #expect(h.status("c") == .cancelled)
        #expect(h.status("r") == .cancelled)
        #expect(h.status("a") == .completed)
        #expect(h.finished == .cancelled)
        #expect(
            h.machine.taskSucceeded(h.index("b"), attempt: b.attempt, output: b.input, startedAt: h.now, now: h.now)
                .isEmpty
        )
        #expect(h.machine.retryDue(h.index("r"), attempt: 2, now: h.now).isEmpty)
        #expect(h.machine.cancel(reason: "again", now: h.now).isEmpty)
    }

    @Test("while not dispatching, ready tasks wait; resuming hands them out")
    func dispatchingOff() throws {
        var h = try Harness([task("a"), task("b", "a"), task("c", "a")])
        h.start()
        h.apply(h.machine.setDispatching(false, now: h.now))
        h.succeed("a")
        #expect(h.runningIDs.isEmpty)
        #expect(h.status("b") == .pending)
        h.apply(h.machine.setDispatching(true, now: h.now))
        #expect(h.runningIDs == ["b", "c"])
        // An attempt handed out but never started goes back to waiting, and is handed out again.
        let attempt = h.running.removeValue(forKey: "c")!.attempt
        h.apply(h.machine.taskNotStarted(h.index("c"), attempt: attempt, now: h.now))
        #expect(h.running["c"]?.attempt == attempt)
    }

    @Test("an unchanged output is stored as no output, a changed one as its delta, and none once the execution ended")
    func storedOutputs() throws {
        var h = try Harness([task("same"), task("changed"), task("last")])
        h.start()
        h.succeed("same")
        h.succeed("changed", set: ["x": 1])
        func outputs() -> [String: [UInt8]?] {
            var outputs: [String: [UInt8]?] = [:]
            for case .updateTask(let record) in h.writes where record.status == .completed {
                outputs[record.taskID] = record.output
            }
            return outputs
        }
        #expect(outputs()["same"] == .some(nil))
        #expect(outputs()["changed"] == .some(Array(#"{"set":{"x":1}}"#.utf8)))
        h.succeed("last", set: ["y": 2])
        // The final context holds every output now: stored once, not again with each task.
        #expect(outputs()["changed"] == .some(nil))
        #expect(outputs()["last"] == .some(nil))
        #expect(h.finalContext == ["x": 1, "y": 2])
        let lastBatch = h.writes.filter {
            if case .updateTask(let r) = $0 { return r.taskID == "last" } else { return false }
        }
        #expect(lastBatch.count == 2, "the running update, then one completed update: written once per batch")
    }

    @Test("restoring re-runs interrupted attempts as the next attempt, keeps retries and outcomes, decides the ready")
    func restore() throws {
        let plan = try ExecutionPlan(
            WorkflowDefinition(
                name: "flow",
                tasks: [
                    task("done"), task("interrupted", "done", retry: RetryPolicy(maxAttempts: 3)),
                    task("waiting", "interrupted"),
                    task("retrying", retry: RetryPolicy(maxAttempts: 3)), task("failed"),
                    task("ready", "done"),
                ]
            )
        )
        func record(
            _ id: String,
            _ position: Int,
            _ status: TaskStatus,
            attempt: Int = 1,
            output: String? = nil
        ) -> TaskRecord {
            TaskRecord(
                executionID: "exec",
                taskID: id,
                position: position,
                status: status,
                attempt: attempt,
                maxAttempts: 1,
                nextRetryAt: status == .retrying ? Timestamp(milliseconds: 9_000) : nil,
                output: output.map { Array($0.utf8) }
            )
        }
        let records = [
            record("done", 0, .completed, output: #"{"done":true}"#),
            record("interrupted", 1, .running, attempt: 2),
            record("waiting", 2, .pending, attempt: 0),
            record("retrying", 3, .retrying, attempt: 1),
            record("failed", 4, .failed),
            record("ready", 5, .pending, attempt: 0),
        ]
        let (machine, actions) = try ExecutionStateMachine.restore(
            id: "exec",
            plan: plan,
            input: ContextSnapshot(["seed": 1]),
            startedAt: Timestamp(milliseconds: 500),
            records: records,
            now: Timestamp(milliseconds: 5_000)
        )
        var runs: [String: (Int, [String: JSONValue])] = [:]
        var retries: [String: Timestamp] = [:]
        for action in actions {
            if case .run(let task, let attempt, let input) = action {
                runs[plan.task(task).id] = (attempt, input.object)
            }
            if case .retry(let task, _, let at) = action { retries[plan.task(task).id] = at }
        }
        #expect(runs["interrupted"]?.0 == 3)
        #expect(runs["interrupted"]?.1 == ["seed": 1, "done": true])
        #expect(runs["ready"]?.0 == 1)
        #expect(runs["waiting"] == nil)
        #expect(retries["retrying"] == Timestamp(milliseconds: 9_000))
        #expect(machine.tasks[4].status == .failed)
        #expect(machine.status == .running)
    }
}
