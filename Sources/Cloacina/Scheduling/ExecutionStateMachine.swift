public import CloacinaStorage

/// The scheduling logic of one execution, as a pure value: events go in, actions come out.
///
/// It decides which tasks run, with which input, which are skipped, when a failure is retried, and how the
/// execution ends; it records every transition as ``StoreWrite``s for the shell to persist. It does no I/O, reads
/// no clock (times arrive with the events), and holds no locks: the shell that owns it serialises events and
/// carries out the actions. Readiness is event-driven: when a task ends, only its dependents are looked at.
///
/// Semantics:
/// - A task's result is its ``ContextDelta``: the top-level keys it set or changed relative to its input, and the
///   keys it removed. A root task's input is the execution's input. Any other task's input is the execution's
///   input with the deltas of its completed dependencies applied in declared order (later wins per key).
/// - Without a trigger rule a task runs when every dependency completed and is skipped otherwise; with one it runs
///   when the rule holds (evaluated against its input once every dependency has finished).
/// - A failed attempt is retried while the task's retry policy allows; then the task fails.
/// - The execution ends when every task has finished: `Failed` if any task failed, `Completed` otherwise. Its
///   final context is the input with every completed task's delta applied in topological order (ties by
///   declaration order), so a task that passes a value through never overwrites another branch's write.
/// - Results for an attempt that is no longer running (timed out, cancelled, superseded) are ignored.
public struct ExecutionStateMachine: Sendable {
    /// What the shell must do. Equatable, so tests compare what the machine asks for directly.
    public enum Action: Sendable, Equatable {
        /// Run attempt `attempt` of task `task` with `input`, then report back.
        case run(task: Int, attempt: Int, input: ContextSnapshot)
        /// Report ``ExecutionStateMachine/retryDue(_:attempt:now:)`` for task `task` at `at`.
        case retry(task: Int, attempt: Int, at: Timestamp)
        /// Ask the running attempt `attempt` of task `task` to stop; its result will be ignored.
        case stop(task: Int, attempt: Int)
        /// Persist these writes, in order, after every write asked for earlier.
        case persist([StoreWrite])
        /// The execution ended with this status (once the writes before it are durable).
        case finished(ExecutionStatus)
    }

    /// How an attempt failed.
    public enum Failure: Sendable, Hashable {
        case failed
        case retryable
        case badInput
        case timedOut
        /// The host stopped (crashed, or was stopped) while the attempt ran.
        case interrupted

        var retryKind: RetryPolicy.Failure {
            switch self {
            case .failed, .interrupted: return .failed
            case .retryable: return .retryable
            case .badInput: return .badInput
            case .timedOut: return .timedOut
            }
        }
    }

    /// The state of one task.
    public struct TaskState: Sendable {
        public var status: TaskStatus = .pending
        /// The attempt running or last run; 0 before the first.
        public var attempt = 0
        /// The input of the attempt running or last run; nil once the task finished (so a large input is not kept
        /// by a task that no longer needs it).
        public var input: ContextSnapshot?
        /// What the completed task changed.
        public var delta: ContextDelta?
        /// Who wrote which key of ``input``.
        var inputWriters: [String: Int] = [:]
        /// The completed task's whole context, for its dependents: released once they have all finished.
        var context: TaskContext?
        public var error: String?
        public var startedAt: Timestamp?
        public var completedAt: Timestamp?
        public var nextRetryAt: Timestamp?
        /// Dependencies that have not finished yet.
        var waitingOn = 0
    }

    public let id: String
    public let plan: ExecutionPlan
    public let input: ContextSnapshot
    public private(set) var status: ExecutionStatus = .pending
    public private(set) var tasks: [TaskState]
    public private(set) var finalContext: ContextSnapshot?
    /// The final context as stored (``ContextDelta/storedFinal(_:)``): what it changed relative to the input.
    public private(set) var storedFinalContext: [UInt8]?
    public private(set) var startedAt: Timestamp?
    public private(set) var completedAt: Timestamp?
    /// Why the execution failed or was cancelled.
    public private(set) var error: String?
    /// While false, tasks that become ready wait (as `Pending`) instead of being run: the runner drains, or the
    /// execution is paused.
    public var dispatching: Bool { draining == false && paused == false }
    /// Whether the runner stopped handing out tasks (a shutdown's drain).
    private var draining = false
    /// Whether someone paused the execution.
    public private(set) var paused = false
    private var unfinished: Int
    /// Tasks whose dependencies have all finished but which were held back while not dispatching.
    private var held: [Int] = []
    private var writes: [StoreWrite] = []
    /// Where each task's record update sits in ``writes`` (-1: none yet), so a task updated twice before a flush
    /// is written once; ``updated`` lists the tasks to reset at the flush.
    private var writePosition: [Int]
    private var updated: [Int] = []
    private var actions: [Action] = []
    private var ended: ExecutionStatus?

    /// A new execution of `plan` with `input`; nothing has run.
    public init(id: String, plan: ExecutionPlan, input: ContextSnapshot) {
        self.id = id
        self.plan = plan
        self.input = input
        self.tasks = plan.dependencies.map { TaskState(waitingOn: $0.count) }
        self.unfinished = plan.count
        self.writePosition = [Int](repeating: -1, count: plan.count)
    }

    /// Every task's current state as a record (for a new execution: the records to insert with it).
    public func taskRecords() -> [TaskRecord] {
        tasks.indices.map(record)
    }

    // MARK: Events

    /// Starts the execution: runs (or skips) the root tasks.
    public mutating func start(now: Timestamp) -> [Action] {
        guard status == .pending else { return [] }
        status = .running
        startedAt = now
        writes.append(.updateExecution(ExecutionUpdate(id: id, status: .running, startedAt: now)))
        event(.executionStarted, at: now)
        for task in tasks.indices where tasks[task].waitingOn == 0 && tasks[task].status == .pending {
            decide(task, now: now)
        }
        finishIfDone(now: now)
        return flush()
    }

    /// Attempt `attempt` of task `task` completed with `output`.
    public mutating func taskSucceeded(
        _ task: Int,
        attempt: Int,
        output: ContextSnapshot,
        startedAt: Timestamp,
        now: Timestamp
    ) -> [Action] {
        guard isRunning(task, attempt) else { return [] }
        tasks[task].status = .completed
        let given = TaskContext(snapshot: tasks[task].input ?? input, writers: tasks[task].inputWriters)
        let delta = ContextDelta(from: given.snapshot, to: output)
        tasks[task].delta = delta
        tasks[task].context = given.after(delta, by: task, output: output)
        tasks[task].input = nil
        tasks[task].error = nil
        tasks[task].startedAt = startedAt
        tasks[task].completedAt = now
        unfinished -= 1
        persist(task)
        event(.taskCompleted, task: task, at: now)
        settle(task, now: now)
        finishIfDone(now: now)
        return flush()
    }

    /// Attempt `attempt` of task `task` failed. `jitter` (in -1...1) varies the retry delay.
    public mutating func taskFailed(
        _ task: Int,
        attempt: Int,
        failure: Failure,
        message: String,
        startedAt: Timestamp?,
        now: Timestamp,
        jitter: Double = 0
    ) -> [Action] {
        guard isRunning(task, attempt) else { return [] }
        fail(task, attempt: attempt, failure: failure, message: message, startedAt: startedAt, now: now, jitter: jitter)
        finishIfDone(now: now)
        return flush()
    }

    /// Attempt `attempt` of task `task` ran past its time limit: it is told to stop and counts as failed.
    public mutating func taskTimedOut(
        _ task: Int,
        attempt: Int,
        after limit: Duration,
        startedAt: Timestamp?,
        now: Timestamp,
        jitter: Double = 0
    ) -> [Action] {
        guard isRunning(task, attempt) else { return [] }
        actions.append(.stop(task: task, attempt: attempt))
        let message = "timed out after \(Self.describe(limit))"
        fail(
            task,
            attempt: attempt,
            failure: .timedOut,
            message: message,
            startedAt: startedAt,
            now: now,
            jitter: jitter
        )
        finishIfDone(now: now)
        return flush()
    }

    /// The retry of task `task` scheduled as attempt `attempt` is due.
    public mutating func retryDue(_ task: Int, attempt: Int, now: Timestamp) -> [Action] {
        guard status == .running, tasks[task].status == .retrying, tasks[task].attempt + 1 == attempt else { return [] }
        tasks[task].nextRetryAt = nil
        if dispatching {
            run(task, attempt: attempt, input: mergedInput(task), now: now)
        } else {
            tasks[task].status = .pending
            persist(task)
            held.append(task)
        }
        return flush()
    }

    /// Attempt `attempt` of task `task` was handed out to run but never started (its runner stopped first): it goes
    /// back to waiting, as if it had never been handed out.
    public mutating func taskNotStarted(_ task: Int, attempt: Int, now: Timestamp) -> [Action] {
        guard isRunning(task, attempt) else { return [] }
        event(
            .taskNotStarted,
            task: task,
            detail: "attempt \(attempt) never started: the runner stopped first",
            at: now
        )
        tasks[task].status = .pending
        tasks[task].attempt = attempt - 1
        tasks[task].startedAt = nil
        persist(task)
        if dispatching {
            decide(task, now: now)
        } else {
            held.append(task)
        }
        return flush()
    }

    /// Cancels the execution: running attempts are told to stop, nothing new starts, unfinished tasks end
    /// `Cancelled`, and the execution ends `Cancelled`.
    public mutating func cancel(reason: String, now: Timestamp) -> [Action] {
        end(.cancelled, reason: reason, now: now)
    }

    /// Ends the execution as `Failed` without running anything more (it cannot go on: its package is gone, say).
    /// Unfinished tasks end `Cancelled`.
    public mutating func abort(reason: String, now: Timestamp) -> [Action] {
        end(.failed, reason: reason, now: now)
    }

    private mutating func end(_ outcome: ExecutionStatus, reason: String, now: Timestamp) -> [Action] {
        guard !status.isFinished else { return [] }
        for task in tasks.indices where !tasks[task].status.isTerminal {
            if tasks[task].status == .running {
                actions.append(.stop(task: task, attempt: tasks[task].attempt))
            }
            tasks[task].status = .cancelled
            tasks[task].nextRetryAt = nil
            tasks[task].completedAt = now
            tasks[task].error = reason
            unfinished -= 1
            persist(task)
            event(.taskCancelled, task: task, detail: reason, at: now)
        }
        held.removeAll()
        finish(outcome, error: reason, now: now)
        return flush()
    }

    /// Stops or resumes handing out tasks. While stopped, tasks that become ready wait as `Pending`; running
    /// attempts are unaffected.
    public mutating func setDispatching(_ on: Bool, now: Timestamp) -> [Action] {
        draining = !on
        return releaseHeld(now: now)
    }

    /// Pauses or resumes the execution: while paused no task starts (tasks that become ready, and retries that
    /// fall due, wait as `Pending`); running attempts go on and their results count. The store records the pause
    /// and its event; the machine only holds tasks back.
    public mutating func setPaused(_ on: Bool, now: Timestamp) -> [Action] {
        paused = on
        return releaseHeld(now: now)
    }

    /// Whether the execution has nothing running while it cannot start anything: paused or draining, no attempt
    /// running. Such an execution goes no further until it is resumed.
    public var isSettled: Bool {
        status.isFinished || (!dispatching && !tasks.contains { $0.status == .running })
    }

    /// Runs the tasks held back, once dispatching is on again.
    private mutating func releaseHeld(now: Timestamp) -> [Action] {
        guard dispatching, status == .running else { return flush() }
        let ready = held
        held.removeAll()
        for task in ready where tasks[task].status == .pending { decide(task, now: now) }
        finishIfDone(now: now)
        return flush()
    }

    // MARK: Recovery

    /// Rebuilds an unfinished execution from its stored task records.
    ///
    /// Completed, failed, skipped and cancelled tasks keep their outcome; an attempt that was running is run again
    /// as the next attempt (work is done at least once); a scheduled retry keeps its time; tasks whose
    /// dependencies have all finished are decided now. Returns the machine and the actions to resume it.
    ///
    /// With `dispatching` false nothing is handed out: interrupted and ready tasks wait (for a cancellation that
    /// follows, say).
    public static func restore(
        id: String,
        plan: ExecutionPlan,
        input: ContextSnapshot,
        startedAt: Timestamp?,
        records: [TaskRecord],
        now: Timestamp,
        dispatching: Bool = true,
        paused: Bool = false
    ) throws(ContextError) -> (ExecutionStateMachine, [Action]) {
        var machine = ExecutionStateMachine(id: id, plan: plan, input: input)
        machine.draining = !dispatching
        machine.paused = paused
        machine.status = .running
        machine.startedAt = startedAt ?? now
        if startedAt == nil {
            machine.writes.append(.updateExecution(ExecutionUpdate(id: id, status: .running, startedAt: now)))
        }
        var byID: [String: TaskRecord] = [:]
        for record in records { byID[record.taskID] = record }
        var interrupted: [Int] = []
        var retries: [Int] = []
        for task in plan.topologicalOrder {
            guard let record = byID[plan.task(task).id] else { continue }
            var state = TaskState(status: record.status, attempt: record.attempt, error: record.error)
            state.startedAt = record.startedAt
            state.completedAt = record.completedAt
            state.nextRetryAt = record.nextRetryAt
            switch record.status {
            case .completed:
                try machine.adoptOutput(record.output, into: &state, of: task)
            case .running:
                interrupted.append(task)
            case .retrying:
                retries.append(task)
            case .pending, .failed, .skipped, .cancelled:
                break
            }
            machine.tasks[task] = state
        }
        for task in machine.tasks.indices {
            machine.tasks[task].waitingOn =
                plan.dependencies[task].filter { !machine.tasks[$0].status.isTerminal }.count
            machine.releaseContext(of: task)
        }
        machine.unfinished = machine.tasks.filter { !$0.status.isTerminal }.count
        machine.event(.executionResumed, at: now)
        for task in interrupted {
            let attempt = machine.tasks[task].attempt + 1
            let limit = plan.task(task).retry.maxAttempts
            guard attempt <= limit else {
                // The interrupted attempt was the last one allowed: it counts, and the task fails.
                machine.fail(
                    task,
                    attempt: attempt - 1,
                    failure: .interrupted,
                    message: "attempt \(attempt - 1) was interrupted, no attempts left (max \(limit))",
                    startedAt: nil,
                    now: now,
                    jitter: 0
                )
                continue
            }
            machine.event(.taskRecovered, task: task, detail: "attempt \(attempt - 1) was interrupted", at: now)
            if machine.dispatching {
                machine.run(task, attempt: attempt, input: machine.mergedInput(task), now: now)
            } else {
                machine.tasks[task].status = .pending
                machine.persist(task)
                machine.held.append(task)
            }
        }
        for task in retries {
            let at = machine.tasks[task].nextRetryAt ?? now
            machine.actions.append(.retry(task: task, attempt: machine.tasks[task].attempt + 1, at: at))
        }
        for task in machine.tasks.indices
        where machine.tasks[task].status == .pending && machine.tasks[task].waitingOn == 0
            && !machine.held.contains(task)
        {
            machine.decide(task, now: now)
        }
        machine.finishIfDone(now: now)
        // Flush before handing the machine out: a machine returned with its actions still buffered would hand
        // them out again at its next event (running the recovered attempts twice).
        let actions = machine.flush()
        return (machine, actions)
    }

    /// Sets a completed task's delta and context from its stored output (nil: it changed nothing), given what its
    /// completed dependencies (adopted before it) passed on.
    private func adoptOutput(_ output: [UInt8]?, into state: inout TaskState, of task: Int) throws(ContextError) {
        let given = mergedInput(task)
        let delta = try output.map { bytes throws(ContextError) in try ContextDelta(parsing: bytes) } ?? .unchanged
        state.inputWriters = given.writers
        state.delta = delta
        state.context = given.after(delta, by: task, output: given.snapshot.applying([delta]))
    }

    // MARK: Retrying

    /// A new execution `id` that retries execution `origin`: each task that completed there, and whose
    /// dependencies all did too, is `Completed` here with the output it recorded (a `task_reused` event says so);
    /// the others (failed, skipped, cancelled, never run, and whatever follows them) run again once it starts.
    /// A completed task downstream of one that runs again is run again as well: its input may change.
    ///
    /// `records` are the origin's task records, matched by task id; tasks of `plan` the origin does not have run.
    public static func retrying(
        _ origin: String,
        id: String,
        plan: ExecutionPlan,
        input: ContextSnapshot,
        records: [TaskRecord],
        now: Timestamp
    ) throws(ContextError) -> ExecutionStateMachine {
        var machine = ExecutionStateMachine(id: id, plan: plan, input: input)
        var byID: [String: TaskRecord] = [:]
        for record in records { byID[record.taskID] = record }
        for task in plan.topologicalOrder {
            guard let record = byID[plan.task(task).id], record.status == .completed,
                plan.dependencies[task].allSatisfy({ machine.tasks[$0].status == .completed })
            else { continue }
            var state = TaskState(status: .completed, attempt: record.attempt, error: nil)
            state.startedAt = record.startedAt
            state.completedAt = record.completedAt
            try machine.adoptOutput(record.output, into: &state, of: task)
            machine.tasks[task] = state
            machine.event(.taskReused, task: task, detail: "output of execution \(origin)", at: now)
        }
        for task in machine.tasks.indices {
            machine.tasks[task].waitingOn =
                plan.dependencies[task].filter { machine.tasks[$0].status != .completed }.count
            machine.releaseContext(of: task)
        }
        machine.unfinished = machine.tasks.filter { $0.status != .completed }.count
        return machine
    }

    // MARK: Decisions

    private func isRunning(_ task: Int, _ attempt: Int) -> Bool {
        status == .running && tasks[task].status == .running && tasks[task].attempt == attempt
    }

    /// Runs or skips a task whose dependencies have all finished.
    private mutating func decide(_ task: Int, now: Timestamp) {
        guard dispatching else {
            held.append(task)
            return
        }
        var input: TaskContext?
        let runs: Bool
        var reason = ""
        if let rule = plan.task(task).trigger {
            if rule.conditions.contains(where: { $0.referencedTask == nil }) { input = mergedInput(task) }
            runs = rule.evaluate(
                outcome: { id in plan.index[id].flatMap { outcome(of: $0) } },
                context: input?.snapshot.object ?? [:]
            )
            reason = "its trigger rule did not hold"
        } else {
            let blocker = plan.dependencies[task].first { tasks[$0].status != .completed }
            runs = blocker == nil
            if let blocker {
                reason = "dependency \(plan.task(blocker).id) \(tasks[blocker].status.rawValue.lowercased())"
            }
        }
        if runs {
            run(task, attempt: tasks[task].attempt + 1, input: input ?? mergedInput(task), now: now)
        } else {
            tasks[task].status = .skipped
            tasks[task].completedAt = now
            tasks[task].error = nil
            unfinished -= 1
            persist(task)
            event(.taskSkipped, task: task, detail: reason, at: now)
            settle(task, now: now)
        }
    }

    private mutating func run(_ task: Int, attempt: Int, input: TaskContext, now: Timestamp) {
        tasks[task].status = .running
        tasks[task].attempt = attempt
        tasks[task].startedAt = now
        tasks[task].input = input.snapshot
        tasks[task].inputWriters = input.writers
        persist(task)
        event(.taskStarted, task: task, at: now)
        actions.append(.run(task: task, attempt: attempt, input: input.snapshot))
    }

    private mutating func fail(
        _ task: Int,
        attempt: Int,
        failure: Failure,
        message: String,
        startedAt: Timestamp?,
        now: Timestamp,
        jitter: Double
    ) {
        let policy = plan.task(task).retry
        tasks[task].error = message
        if let startedAt { tasks[task].startedAt = startedAt }
        if policy.allowsRetry(after: failure.retryKind, attempt: attempt) {
            let at = now + policy.delay(beforeRetry: attempt, jitter: jitter)
            tasks[task].status = .retrying
            tasks[task].nextRetryAt = at
            persist(task)
            event(
                .taskRetryScheduled,
                task: task,
                detail: "attempt \(attempt) failed: \(message); attempt \(attempt + 1) at \(at.milliseconds)",
                at: now
            )
            actions.append(.retry(task: task, attempt: attempt + 1, at: at))
        } else {
            tasks[task].status = .failed
            tasks[task].input = nil
            tasks[task].completedAt = now
            unfinished -= 1
            persist(task)
            event(.taskFailed, task: task, detail: message, at: now)
            settle(task, now: now)
        }
    }

    /// A task finished: decide its dependents that were waiting only for it.
    private mutating func settle(_ task: Int, now: Timestamp) {
        for dependency in plan.dependencies[task] { releaseContext(of: dependency) }
        var ready: [Int] = []
        for dependent in plan.dependents[task] {
            tasks[dependent].waitingOn -= 1
            if tasks[dependent].waitingOn == 0 && tasks[dependent].status == .pending { ready.append(dependent) }
        }
        for dependent in ready { decide(dependent, now: now) }
    }

    /// Forgets a completed task's context once every task that depends on it has finished: nothing reads it again
    /// (retries and late decisions concern unfinished dependents only). A task without dependents keeps it for
    /// the final context.
    private mutating func releaseContext(of task: Int) {
        guard tasks[task].context != nil, !plan.dependents[task].isEmpty,
            plan.dependents[task].allSatisfy({ tasks[$0].status.isTerminal })
        else { return }
        tasks[task].context = nil
    }

    private func outcome(of task: Int) -> TaskOutcome? {
        switch tasks[task].status {
        case .completed: return .succeeded
        case .failed: return .failed
        case .skipped, .cancelled: return .skipped
        case .pending, .running, .retrying: return nil
        }
    }

    /// What task `task` is given: the execution's input with the changes of its completed dependencies (and
    /// theirs) applied, dependencies in declared order. A later dependency's value for a key wins unless it only
    /// passed on a value that an earlier one's lineage already changed since (its writer is an ancestor of, or the
    /// same as, the writer of the value already merged): so a sibling that passes a value through never
    /// overwrites another branch's write.
    func mergedInput(_ task: Int) -> TaskContext {
        let contexts = plan.dependencies[task].compactMap { tasks[$0].status == .completed ? tasks[$0].context : nil }
        guard var merged = contexts.first else { return TaskContext(snapshot: input, writers: [:]) }
        var object: [String: JSONValue]?
        var sources: [String: ContextSnapshot] = [:]
        for next in contexts.dropFirst() {
            for (key, writer) in next.writers {
                if let current = merged.writers[key], plan.isAncestor(writer, orSelfOf: current) { continue }
                if object == nil { object = merged.snapshot.object }
                merged.writers[key] = writer
                object?[key] = next.snapshot.object[key]
                sources[key] = next.snapshot
            }
        }
        // Encoded by copying each member's text from the context it came from, not by writing the values again.
        if let object { merged.snapshot = ContextSnapshot(object, base: merged.snapshot, sources: sources) }
        return merged
    }

    private mutating func finishIfDone(now: Timestamp) {
        guard status == .running, unfinished == 0 else { return }
        let failed = tasks.indices.filter { tasks[$0].status == .failed }
        if let first = failed.first {
            let names = failed.map { plan.task($0).id }.joined(separator: ", ")
            finish(
                .failed,
                error: "task\(failed.count > 1 ? "s" : "") \(names) failed: \(tasks[first].error ?? "")",
                now: now
            )
        } else {
            finish(.completed, error: nil, now: now)
        }
    }

    private mutating func finish(_ outcome: ExecutionStatus, error: String?, now: Timestamp) {
        status = outcome
        completedAt = now
        self.error = error
        let final = mergedFinalContext()
        finalContext = final
        storedFinalContext = ContextDelta.storedFinal(ContextDelta(from: input, to: final))
        if outcome == .completed {
            for task in tasks.indices where tasks[task].status == .completed && tasks[task].delta?.isEmpty == false {
                persist(task)
            }
        }
        writes.append(
            .updateExecution(
                ExecutionUpdate(
                    id: id,
                    status: outcome,
                    completedAt: now,
                    finalContext: storedFinalContext,
                    error: error
                )
            )
        )
        event(ExecutionEvent.Kind(endingWith: outcome), detail: error, at: now)
        ended = outcome
    }

    /// The input with every completed task's delta applied in topological order. When that is the context of the
    /// last completed task (as at the end of a chain), it is that task's snapshot, whose encoding exists already.
    /// Then no task's context is needed any more.
    private mutating func mergedFinalContext() -> ContextSnapshot {
        let completed = plan.topologicalOrder.filter { tasks[$0].status == .completed }
        let merged = input.applying(completed.compactMap { tasks[$0].delta })
        defer { for task in tasks.indices { tasks[task].context = nil } }
        guard merged !== input else { return input }
        if let last = completed.last(where: { tasks[$0].context != nil }), let context = tasks[last].context,
            context.snapshot.object == merged.object
        {
            return context.snapshot
        }
        return merged
    }

    // MARK: Records

    private mutating func persist(_ task: Int) {
        let update = StoreWrite.updateTask(record(task))
        if writePosition[task] >= 0 {
            writes[writePosition[task]] = update
        } else {
            writePosition[task] = writes.count
            updated.append(task)
            writes.append(update)
        }
    }

    private func record(_ task: Int) -> TaskRecord {
        let state = tasks[task]
        var output: [UInt8]?
        // Task outputs are kept while the execution runs (to resume it) and after it failed or was cancelled (to
        // retry it from the failure); once it completed, its final context holds them, so each value is stored
        // once.
        if state.status == .completed, status != .completed, let delta = state.delta, !delta.isEmpty {
            output = delta.bytes
        }
        return TaskRecord(
            executionID: id,
            taskID: plan.task(task).id,
            position: task,
            status: state.status,
            attempt: state.attempt,
            maxAttempts: plan.task(task).retry.maxAttempts,
            nextRetryAt: state.nextRetryAt,
            startedAt: state.startedAt,
            completedAt: state.completedAt,
            error: state.error,
            output: output
        )
    }

    private mutating func event(_ kind: ExecutionEvent.Kind, task: Int? = nil, detail: String? = nil, at: Timestamp) {
        writes.append(
            .appendEvent(
                ExecutionEvent(
                    executionID: id,
                    taskID: task.map { plan.task($0).id },
                    kind: kind,
                    attempt: task.map { tasks[$0].attempt },
                    detail: detail,
                    at: at
                )
            )
        )
    }

    /// Hands out what accumulated: the writes first (so the shell persists before acting), then the other
    /// actions, then the end of the execution if it ended.
    private mutating func flush() -> [Action] {
        var result: [Action] = []
        if !writes.isEmpty { result.append(.persist(writes)) }
        result.append(contentsOf: actions)
        if let ended { result.append(.finished(ended)) }
        writes.removeAll()
        for task in updated { writePosition[task] = -1 }
        updated.removeAll(keepingCapacity: true)
        actions.removeAll()
        ended = nil
        return result
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.inMilliseconds
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
