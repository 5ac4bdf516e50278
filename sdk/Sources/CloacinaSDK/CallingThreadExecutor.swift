internal import Dispatch
internal import Synchronization

/// Runs an `async` task body to completion on the host thread that called the task: a task executor whose jobs
/// are queued and run by that thread, which waits for them in between, so the body never occupies a thread of
/// Swift's cooperative pool (the host calls tasks on threads of its own, which may block).
///
/// Continuations resumed elsewhere (a timer, another library's callback thread) come back through the queue, and
/// child tasks (`async let`, task groups) inherit the executor, so they run on the same thread, one job at a time.
/// While it waits, the thread asks `isCancelled` every few milliseconds and cancels the body's task once it says
/// yes, so `Task.checkCancellation()` and cancellable awaits such as `Task.sleep` stop at a time limit. What it
/// does not do: move work the body sends elsewhere on purpose (`Task.detached`, an actor, `DispatchQueue`) onto this
/// thread, or stop a body that ignores cancellation (the host abandons or kills it, as for a synchronous one).
final class CallingThreadExecutor: TaskExecutor, Sendable {
    private struct State: ~Copyable {
        var jobs: [UnownedJob] = []
        var finished = false
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    /// How often the waiting thread asks whether the call was cancelled.
    static let cancellationInterval = DispatchTimeInterval.milliseconds(5)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        wakeUp.signal()
    }

    /// Runs `body` on `context` here until it returns or throws; cancels it when `isCancelled` turns true.
    static func run(
        _ body: @escaping WorkflowTask.AsyncBody,
        on context: inout Context,
        isCancelled: () -> Bool
    ) throws {
        let executor = CallingThreadExecutor()
        let outcome = Outcome()
        try withUnsafeMutablePointer(to: &context) { pointer in
            // The pointer is used only by the body's task, and only while this thread waits for it below.
            let borrowed = BorrowedContext(pointer: pointer)
            let task = Task(executorPreference: executor) {
                let result: Result<Void, any Error>
                do {
                    try await body(&borrowed.pointer.pointee)
                    result = .success(())
                } catch {
                    result = .failure(error)
                }
                outcome.result.withLock { $0 = result }
                executor.finish()
            }
            var cancelled = false
            executor.drain {
                guard !cancelled, isCancelled() else { return }
                cancelled = true
                task.cancel()
            }
            try outcome.result.withLock { $0! }.get()
        }
    }

    private func finish() {
        state.withLock { $0.finished = true }
        wakeUp.signal()
    }

    /// Runs queued jobs on this thread until the body's task finished, calling `idle` after every batch of jobs
    /// and at least every ``cancellationInterval`` while waiting.
    private func drain(idle: () -> Void) {
        while true {
            let (jobs, finished) = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return (state.jobs, state.finished)
            }
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
            if finished && jobs.isEmpty { return }
            // Also between jobs: a body that only yields (`await Task.yield()`) never leaves the queue empty.
            idle()
            if jobs.isEmpty { _ = wakeUp.wait(timeout: .now() + Self.cancellationInterval) }
        }
    }
}

/// How the body's task ended, set by it before it finishes.
private final class Outcome: Sendable {
    let result = Mutex<Result<Void, any Error>?>(nil)
}

/// The caller's context, lent to the body's task while the caller waits for it (so never used by two threads at once).
private struct BorrowedContext: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Context>
}
