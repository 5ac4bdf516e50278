import CloacinaStorage
import Testing

@testable import Cloacina

/// Restoring an execution from its stored records: each interrupted attempt runs again exactly once, and never
/// past the task's last allowed attempt.
@Suite("Execution recovery")
struct ExecutionRecoveryTests {
    static let plan = try! ExecutionPlan(
        WorkflowDefinition(
            name: "flow",
            tasks: [
                task("first"), task("second", retry: RetryPolicy(maxAttempts: 2)), task("after", "first"),
            ]
        )
    )

    static func records(first: Int, second: Int) -> [TaskRecord] {
        [
            TaskRecord(
                executionID: "exec",
                taskID: "first",
                position: 0,
                status: .running,
                attempt: first,
                maxAttempts: 1
            ),
            TaskRecord(
                executionID: "exec",
                taskID: "second",
                position: 1,
                status: .running,
                attempt: second,
                maxAttempts: 2
            ),
            TaskRecord(executionID: "exec", taskID: "after", position: 2, status: .pending, attempt: 0, maxAttempts: 1),
        ]
    }

    static func restore(first: Int, second: Int) throws -> Harness {
        let (machine, actions) = try ExecutionStateMachine.restore(
            id: "exec",
            plan: plan,
            input: ContextSnapshot([:]),
            startedAt: Timestamp(milliseconds: 500),
            records: records(first: first, second: second),
            now: Timestamp(milliseconds: 5_000)
        )
        var h = Harness(machine: machine)
        h.apply(actions)
        return h
    }

    @Test("the restored machine hands each recovered attempt out once: later events do not repeat it")
    func noReplay() throws {
        var h = try Self.restore(first: 0, second: 1)
        #expect(h.running["first"]?.attempt == 1)
        #expect(h.running["second"]?.attempt == 2)
        #expect(h.events(.executionResumed).count == 1)
        #expect(h.events(.taskRecovered) == ["first", "second"])
        let handedOut = h.runs
        // Any later event (a drain's start, another task ending) must not hand the recovered attempts out again.
        h.apply(h.machine.setDispatching(false, now: h.now))
        h.succeed("second")
        h.apply(h.machine.setDispatching(true, now: h.now))
        #expect(h.runs == handedOut)
        #expect(h.events(.executionResumed).count == 1)
        #expect(h.events(.taskStarted).count == 2)
    }

    @Test("restoring asks for exactly the recovered runs, after the writes that record them")
    func restoreActions() throws {
        let (_, actions) = try ExecutionStateMachine.restore(
            id: "exec",
            plan: Self.plan,
            input: ContextSnapshot(["k": 1]),
            startedAt: Timestamp(milliseconds: 500),
            records: Self.records(first: 0, second: 1),
            now: Timestamp(milliseconds: 5_000)
        )
        guard case .persist = actions.first else {
            Issue.record("the writes come first: \(actions)")
            return
        }
        #expect(
            Array(actions.dropFirst()) == [
                .run(task: 0, attempt: 1, input: ContextSnapshot(["k": 1])),
                .run(task: 1, attempt: 2, input: ContextSnapshot(["k": 1])),
            ]
        )
    }

    @Test("an interrupted last attempt counts: the task fails with no attempts left, its dependents are skipped")
    func noAttemptsLeft() throws {
        var h = try Self.restore(first: 1, second: 2)
        #expect(h.running.isEmpty)
        #expect(h.status("first") == .failed)
        #expect(h.status("second") == .failed)
        #expect(h.status("after") == .skipped)
        #expect(h.machine.tasks[0].attempt == 1)
        #expect(h.machine.tasks[0].error == "attempt 1 was interrupted, no attempts left (max 1)")
        #expect(h.finished == .failed)
        #expect(h.events(.taskRecovered).isEmpty)
    }

    @Test("an attempt handed out while dispatching stopped never starts: it goes back to waiting, and is recorded")
    func notStarted() throws {
        var h = try Self.restore(first: 0, second: 1)
        h.apply(h.machine.setDispatching(false, now: h.now))
        let (attempt, _) = h.running.removeValue(forKey: "first")!
        h.apply(h.machine.taskNotStarted(0, attempt: attempt, now: h.now))
        #expect(h.status("first") == .pending)
        #expect(h.machine.tasks[0].attempt == 0)
        #expect(h.events(.taskNotStarted) == ["first"])
        h.apply(h.machine.setDispatching(true, now: h.now))
        #expect(h.running["first"]?.attempt == 1)
    }
}

extension Harness {
    init(machine: ExecutionStateMachine) {
        self.machine = machine
    }

    /// Every attempt handed out so far, as task id and attempt, from the recorded `task_started` events.
    var runs: [String] {
        writes.compactMap {
            if case .appendEvent(let event) = $0, event.kind == .taskStarted {
                return "\(event.taskID ?? "") \(event.attempt ?? 0)"
            }
            return nil
        }
    }
}
