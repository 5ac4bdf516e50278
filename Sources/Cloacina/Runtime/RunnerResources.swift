internal import Synchronization

/// What runners work with: the threads that run task attempts, and the timers and background jobs of ``run()``.
/// (Store calls and commits run on each store's own queues; other blocking calls, such as loading a package, on
/// ``BlockingCall``.)
///
/// A runner made alone creates its own. A host serving many tenants makes one and gives it to every tenant's runner
/// (``DefaultRunner/Configuration/resources``, as ``TenantManager`` does), so the number of threads does not grow
/// with the number of tenants and ``DefaultRunner/Configuration/maxConcurrentTasks`` bounds the whole host. Threads
/// start when first needed.
///
/// The timers and background jobs run in ``run()``: a host runs it in its own task group (as `cloacina serve` does,
/// through ``TenantManager/run()``); until someone does, the first timer set starts them in a task of their own,
/// which ``run()`` takes over and ``shutdown()`` ends. Whoever makes shared resources stops them
/// with ``shutdown()`` after every runner using them has shut down.
public final class RunnerResources: Sendable {
    /// Threads that run task attempts (package code, which blocks and can hang); their number is the concurrency
    /// limit.
    let taskPool: WorkerPool
    let timers: RunnerTimers
    private let nextOwner = Atomic<UInt64>(0)

    /// Resources for at most `maxConcurrentTasks` task attempts at once.
    public convenience init(maxConcurrentTasks: Int) {
        self.init(maxConcurrentTasks: maxConcurrentTasks, clock: ContinuousClock())
    }

    /// Resources whose timers run on `clock` (a manual clock in tests).
    init<TimerClock: Clock>(maxConcurrentTasks: Int, clock: TimerClock) where TimerClock.Duration == Duration {
        taskPool = WorkerPool(name: "cloacina-task", limit: maxConcurrentTasks)
        timers = RunnerTimers(clock: clock)
    }

    /// Runs the timers (retry delays, attempt time limits, lease heartbeats, idle release) and background jobs of
    /// every runner on these resources, until ``shutdown()`` or until the task is cancelled. Takes over from the
    /// task the resources ran themselves in, if any; returns at once when another caller runs them. Graceful shutdown is not a reason to stop: runners drain on
    /// these timers, so the host calls ``shutdown()`` once they have.
    public func run() async {
        await timers.run()
    }

    /// A tag for one runner's jobs, so its queued jobs can be discarded without touching other runners'.
    func newOwner() -> UInt64 {
        nextOwner.add(1, ordering: .relaxed).newValue
    }

    /// Stops every thread and the timers: queued jobs are discarded (and told), timers dropped, ``run()`` returns.
    public func shutdown() {
        taskPool.stop()
        timers.stop()
    }
}
