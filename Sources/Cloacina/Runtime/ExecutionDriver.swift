internal import CloacinaStorage
internal import Logging
internal import Synchronization

/// The thin shell around one execution's ``ExecutionStateMachine``: it feeds the machine events (a task returned,
/// a timer fired, a cancellation) and carries out the actions it returns.
///
/// Each event is handled under the driver's lock, and the writes it produces are queued to the store writer before
/// the lock is released, so transitions reach the database in the order the machine made them; observers hear the
/// events after the lock is released. Task attempts run on the runner's task threads; the driver never waits for
/// one. The end of the execution is announced only once its final writes are durable.
final class ExecutionDriver: Sendable {
    let id: String
    let package: LoadedPackage
    let runtime: RunnerRuntime
    let createdAt: Timestamp
    let lineage: ExecutionLineage
    private let onEnd: @Sendable (ExecutionDriver) -> Void
    private let state: Mutex<State>

    private struct RunningAttempt {
        var attempt: Int
        let cancellation: TaskCancellation
        /// The attempt's log lines, until the write recording its end takes them.
        let logs: TaskLogRecorder
        var job: UInt64?
        var timer: UInt64?
    }

    private struct State {
        var machine: ExecutionStateMachine
        var attempts: [Int: RunningAttempt] = [:]
        var retryTimers: [Int: UInt64] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        /// Set once the execution ended durably, or the driver gave up on it.
        var outcome: Result<ExecutionStatus, CloacinaError>?
        /// Set when the driver stopped processing (ownership lost, storage failure, shutdown).
        var stopped = false
    }

    private struct Waiter {
        let continuation: CheckedContinuation<Void, any Error>
        /// Whether the wait ends as soon as the execution is settled (``ExecutionStateMachine/isSettled``).
        let untilSettled: Bool
    }

    /// Something the driver does after releasing its lock.
    private enum Effect {
        case submit(WorkerPool.Job, task: Int, attempt: Int)
        case resume([CheckedContinuation<Void, any Error>], Result<Void, CloacinaError>)
        /// Tell the runner's observer these events (outside the lock: an observer may call back into the driver).
        case observe([ExecutionEvent])
    }

    init(
        machine: ExecutionStateMachine,
        package: LoadedPackage,
        runtime: RunnerRuntime,
        createdAt: Timestamp,
        lineage: ExecutionLineage = ExecutionLineage(),
        onEnd: @escaping @Sendable (ExecutionDriver) -> Void
    ) {
        self.id = machine.id
        self.lineage = lineage
        self.package = package
        self.runtime = runtime
        self.createdAt = createdAt
        self.onEnd = onEnd
        self.state = Mutex(State(machine: machine))
    }

    // MARK: Events

    /// Carries out actions the machine returned before the driver took it: its start, or
    /// ``ExecutionStateMachine/restore(id:plan:input:startedAt:records:now:)``.
    func resume(with actions: [ExecutionStateMachine.Action]) {
        send { _ in actions }
    }

    /// Cancels the execution (a request from a caller, or one found in the store).
    func cancel(reason: String) {
        send { $0.cancel(reason: reason, now: .now()) }
    }

    /// Stops or resumes handing out tasks (for draining at shutdown).
    func setDispatching(_ on: Bool) {
        send { $0.setDispatching(on, now: .now()) }
    }

    /// Pauses or resumes the execution (the store has recorded it): no task starts while it is paused.
    func setPaused(_ on: Bool) {
        send { $0.setPaused(on, now: .now()) }
    }

    /// Gives up on the execution without recording anything more: running attempts are told to stop, waiters get
    /// `error`. The durable record stays as it is, for whoever resumes it.
    func stop(_ error: CloacinaError) {
        let effects: [Effect]? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.stopped = true
            for attempt in state.attempts.values {
                attempt.cancellation.cancel()
                if let timer = attempt.timer { runtime.timers.cancel(timer) }
            }
            for timer in state.retryTimers.values { runtime.timers.cancel(timer) }
            state.retryTimers.removeAll()
            if state.outcome == nil { state.outcome = .failure(error) }
            let waiters = state.waiters.values.map(\.continuation)
            state.waiters.removeAll()
            return [.resume(waiters, .failure(error))]
        }
        guard let effects else { return }
        perform(effects)
        onEnd(self)
    }

    /// Waits until the execution ended durably, or with `untilSettled`, until it ended or is settled: paused (or
    /// draining) with no attempt running, so that it goes no further until resumed. Throws when the driver gave up
    /// on it, and `cancelled` when the caller's task is cancelled first (the execution goes on).
    func wait(untilSettled: Bool = false) async throws(CloacinaError) {
        let waiter = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let outcome: Result<ExecutionStatus, CloacinaError>? = state.withLock { state in
                        if let outcome = state.outcome { return outcome }
                        if Task.isCancelled { return .failure(Self.cancelledWait) }
                        if untilSettled, state.machine.isSettled { return .success(.running) }
                        state.waiters[waiter] = Waiter(continuation: continuation, untilSettled: untilSettled)
                        return nil
                    }
                    switch outcome {
                    case .success: continuation.resume()
                    case .failure(let error): continuation.resume(throwing: error)
                    case nil: break
                    }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: waiter) }?.continuation.resume(
                    throwing: Self.cancelledWait
                )
            }
        } catch let error as CloacinaError {
            throw error
        } catch {
            throw CloacinaError(.storage, "\(error)")
        }
    }

    private static let cancelledWait = CloacinaError(.cancelled, "the wait was cancelled; the execution goes on")

    /// How the driver ended: nil while it runs, else the final status or why it gave up.
    var outcome: Result<ExecutionStatus, CloacinaError>? { state.withLock { $0.outcome } }

    /// Whether the execution ended, or is paused with no attempt running.
    var isSettled: Bool { state.withLock { $0.outcome != nil || $0.machine.isSettled } }

    /// Whether the execution is paused.
    var isPaused: Bool { state.withLock { $0.machine.paused } }

    /// The execution as it stands now, as a caller sees it: the contexts are the machine's, not parsed again.
    func result(tenant: String) -> ExecutionResult {
        let (record, tasks) = snapshot()
        return state.withLock { state in
            ExecutionResult(
                record: record,
                tasks: tasks,
                tenant: tenant,
                input: state.machine.input.object,
                finalContext: state.machine.finalContext?.object
            )
        }
    }

    /// The execution as it stands now, in the form the store keeps.
    func snapshot() -> (ExecutionRecord, [TaskRecord]) {
        state.withLock { state in
            let machine = state.machine
            let record = ExecutionRecord(
                id: id,
                workflow: machine.plan.workflow.name,
                package: package.reference,
                definition: machine.plan.definitionJSON,
                status: machine.status,
                input: machine.input.bytes,
                finalContext: machine.storedFinalContext,
                error: machine.error,
                createdAt: createdAt,
                startedAt: machine.startedAt,
                completedAt: machine.completedAt,
                owner: runtime.identity.value,
                paused: machine.paused,
                retryOf: lineage.retryOf,
                rerunOf: lineage.rerunOf,
                scheduleID: lineage.scheduleID,
                scheduledFor: lineage.scheduledFor
            )
            return (record, machine.taskRecords())
        }
    }

    // MARK: Handling

    /// Applies one event to the machine and carries out what it asks for. With `commitHere`, the caller's thread
    /// (a task thread, which may block) commits the writes itself when the store is idle, instead of waking a writer
    /// thread: one thread hand-off less per dependency hop.
    /// `logs` are an ended attempt's lines: written with the event's writes (those recording the attempt's end),
    /// dropped when the event writes nothing (the attempt's end was recorded before, at a timeout say).
    private func send(
        commitHere: Bool = false,
        logs: StoreWrite? = nil,
        _ event: (inout ExecutionStateMachine) -> [ExecutionStateMachine.Action]
    ) {
        let effects: [Effect] = state.withLock { state in
            guard !state.stopped else { return [] }
            var effects = handle(event(&state.machine), in: &state, commitHere: commitHere, logs: logs)
            if state.machine.isSettled, !state.machine.status.isFinished {
                let settled = state.waiters.filter(\.value.untilSettled)
                for key in settled.keys { state.waiters[key] = nil }
                if !settled.isEmpty { effects.append(.resume(settled.values.map(\.continuation), .success(()))) }
            }
            return effects
        }
        perform(effects)
        // Outside the lock: the commit's completions take it again.
        if commitHere { runtime.writer.commitHere() }
    }

    private func handle(
        _ actions: [ExecutionStateMachine.Action],
        in state: inout State,
        commitHere: Bool = false,
        logs: StoreWrite? = nil
    ) -> [Effect] {
        var effects: [Effect] = []
        var writes: [StoreWrite] = []
        // Log lines of attempts whose end these actions record, after the writes that record it.
        var logWrites: [StoreWrite] = []
        var ended: ExecutionStatus?
        for action in actions {
            switch action {
            case .persist(let batch):
                writes.append(contentsOf: batch)
            case .run(let task, let attempt, let input):
                let cancellation = TaskCancellation()
                let logs = TaskLogRecorder(
                    maximumLines: runtime.maximumLogLines,
                    maximumLineBytes: runtime.maximumLogLineBytes
                )
                state.attempts[task] = RunningAttempt(attempt: attempt, cancellation: cancellation, logs: logs)
                let job = job(
                    workflow: state.machine.plan.workflow.name,
                    definition: state.machine.plan.task(task),
                    task: task,
                    attempt: attempt,
                    input: input,
                    cancellation: cancellation,
                    logs: logs
                )
                effects.append(.submit(job, task: task, attempt: attempt))
            case .retry(let task, let attempt, let at):
                let delay = at.duration(since: .now())
                state.retryTimers[task] = runtime.timers.schedule(after: delay) { [self] in
                    send { $0.retryDue(task, attempt: attempt, now: .now()) }
                }
            case .stop(let task, let attempt):
                guard let running = state.attempts[task], running.attempt == attempt else { continue }
                // Stopped (timed out, cancelled): its lines so far go with the write recording that.
                let definition = state.machine.plan.task(task)
                if let lines = running.logs.take(executionID: id, taskID: definition.id, attempt: attempt) {
                    logWrites.append(lines)
                }
                running.cancellation.cancel()
                if let timer = running.timer { runtime.timers.cancel(timer) }
                if let job = running.job { runtime.taskPool.abandon(job) }
                state.attempts[task] = nil
            case .finished(let status):
                ended = status
                for timer in state.retryTimers.values { runtime.timers.cancel(timer) }
                state.retryTimers.removeAll()
            }
        }
        if !writes.isEmpty {
            if let logs { writes.append(logs) }
            writes += logWrites
        }
        var observed: [Effect] = []
        if runtime.observer != nil {
            let events = writes.compactMap { write -> ExecutionEvent? in
                if case .appendEvent(let event) = write { return event }
                return nil
            }
            if !events.isEmpty { observed.append(.observe(events)) }
        }
        guard !writes.isEmpty || ended != nil else { return effects + observed }
        // Write-ahead: an attempt starts only once the record saying it started is durable, so a crash never
        // loses an attempt (a resumed execution runs it again as the next attempt, and the count is exact).
        let ending = ended
        let starts = effects
        runtime.writer.enqueue(writes, committer: commitHere ? .caller : .queue) { [self] result in
            committed(result, ended: ending, starts: starts)
        }
        return observed
    }

    /// A batch of this execution's writes committed (or failed); `starts` are the attempts it recorded as started.
    private func committed(_ result: Result<Set<String>, StoreError>, ended: ExecutionStatus?, starts: [Effect]) {
        switch result {
        case .success(let lost) where lost.contains(id):
            runtime.logger.error("another runner took over the execution; stopping", metadata: ["execution": "\(id)"])
            stop(CloacinaError(.ownershipLost, "execution \(id) was taken over by another runner"))
        case .success:
            perform(starts)
            guard let ended else { return }
            let effects: [Effect] = state.withLock { state in
                guard state.outcome == nil else { return [] }
                state.outcome = .success(ended)
                let waiters = state.waiters.values.map(\.continuation)
                state.waiters.removeAll()
                return [.resume(waiters, .success(()))]
            }
            perform(effects)
            onEnd(self)
        case .failure(let error):
            stop(CloacinaError(error))
        }
    }

    private func perform(_ effects: [Effect]) {
        for effect in effects {
            switch effect {
            case .submit(let job, let task, let attempt):
                // The attempt may have been stopped (cancelled, timed out, the driver gave up) while its start was
                // being recorded; or dispatching stopped (a drain's deadline passed): then it never starts, and goes
                // back to waiting as if it had never been handed out.
                let (current, dispatching) = state.withLock {
                    (!$0.stopped && $0.attempts[task]?.attempt == attempt, $0.machine.dispatching)
                }
                guard current else { continue }
                guard dispatching else {
                    state.withLock { state in
                        if state.attempts[task]?.attempt == attempt { state.attempts[task] = nil }
                    }
                    send { $0.taskNotStarted(task, attempt: attempt, now: .now()) }
                    continue
                }
                runtime.attemptStarted()
                if let id = runtime.taskPool.submit(job) {
                    state.withLock { state in
                        if state.attempts[task]?.attempt == attempt { state.attempts[task]?.job = id }
                    }
                }
            case .observe(let events):
                if let observer = runtime.observer { for event in events { observer(event) } }
            case .resume(let waiters, let result):
                for waiter in waiters {
                    switch result {
                    case .success: waiter.resume()
                    case .failure(let error): waiter.resume(throwing: error)
                    }
                }
            }
        }
    }

    // MARK: Attempts

    /// The job that runs one attempt on a task thread and reports how it ended.
    private func job(
        workflow: String,
        definition: TaskDefinition,
        task: Int,
        attempt: Int,
        input: ContextSnapshot,
        cancellation: TaskCancellation,
        logs: TaskLogRecorder
    ) -> WorkerPool.Job {
        let timeout = definition.timeout ?? runtime.defaultTimeout
        var request = TaskRequest(
            workflow: workflow,
            task: definition.id,
            tenant: runtime.tenant,
            executionID: id,
            attempt: attempt,
            context: input.bytes,
            maximumOutputBytes: runtime.maximumOutputBytes
        )
        request.logRecorder = logs
        return WorkerPool.Job(
            run: { [self, request] in
                defer { runtime.attemptEnded() }
                let startedAt = Timestamp.now()
                let timer = runtime.timers.schedule(after: timeout) { [self] in
                    send {
                        $0.taskTimedOut(
                            task,
                            attempt: attempt,
                            after: timeout,
                            startedAt: startedAt,
                            now: .now(),
                            jitter: .random(in: -1...1)
                        )
                    }
                }
                state.withLock { state in
                    if state.attempts[task]?.attempt == attempt { state.attempts[task]?.timer = timer }
                }
                let result = runtime.invoker.invoke(request, in: package, cancellation: cancellation)
                runtime.timers.cancel(timer)
                report(result, task: task, taskID: definition.id, attempt: attempt, input: input, startedAt: startedAt)
            },
            discarded: { [self] in
                defer { runtime.attemptEnded() }
                send { $0.taskNotStarted(task, attempt: attempt, now: .now()) }
            },
            owner: runtime.jobOwner
        )
    }

    private func report(
        _ result: TaskResult,
        task: Int,
        taskID: String,
        attempt: Int,
        input: ContextSnapshot,
        startedAt: Timestamp
    ) {
        // The attempt's lines, unless it was stopped already (and they went with the write recording that).
        let running: RunningAttempt? = state.withLock { state in
            guard let running = state.attempts[task], running.attempt == attempt else { return nil }
            state.attempts[task] = nil
            return running
        }
        let logs = running?.logs.take(executionID: id, taskID: taskID, attempt: attempt)
        let now = Timestamp.now()
        let event: (inout ExecutionStateMachine) -> [ExecutionStateMachine.Action]
        func failed(
            _ failure: ExecutionStateMachine.Failure,
            _ message: String
        ) -> (inout ExecutionStateMachine) -> [ExecutionStateMachine.Action] {
            {
                $0.taskFailed(
                    task,
                    attempt: attempt,
                    failure: failure,
                    message: message,
                    startedAt: startedAt,
                    now: now,
                    jitter: .random(in: -1...1)
                )
            }
        }
        switch result {
        case .succeeded(nil):
            event = { $0.taskSucceeded(task, attempt: attempt, output: input, startedAt: startedAt, now: now) }
        case .succeeded(let bytes?):
            if bytes.count > runtime.maximumOutputBytes {
                event = failed(
                    .failed,
                    "the task's output is \(bytes.count) bytes, over the \(runtime.maximumOutputBytes)-byte limit (--max-output-bytes)"
                )
            } else {
                do throws(ContextError) {
                    // Read against the input: an output equal to it is not parsed, unchanged members not rebuilt.
                    let output = try ContextSnapshot.output(bytes, of: input)
                    event = { $0.taskSucceeded(task, attempt: attempt, output: output, startedAt: startedAt, now: now) }
                } catch {
                    event = failed(.failed, "the task's output is not a JSON object: \(error.message)")
                }
            }
        case .failed(let message): event = failed(.failed, message)
        case .retryable(let message): event = failed(.retryable, message)
        case .badInput(let message): event = failed(.badInput, message)
        }
        send(commitHere: true, logs: logs, event)
    }
}
