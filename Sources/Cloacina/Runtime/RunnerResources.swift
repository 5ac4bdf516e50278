internal import Synchronization

/// The threads runners work on: task attempts, blocking store calls, store commits, and timers.
///
/// A runner made alone creates its own. A host serving many tenants makes one and gives it to every tenant's runner
/// (``DefaultRunner/Configuration/resources``, as ``TenantManager`` does), so the number of threads does not grow
/// with the number of tenants and ``DefaultRunner/Configuration/maxConcurrentTasks`` bounds the whole host. Threads
/// start when first needed. Whoever makes shared resources stops them with ``shutdown()`` after every runner using
/// them has shut down.
public final class RunnerResources: Sendable {
    /// Threads that run task attempts; their number is the concurrency limit.
    let taskPool: WorkerPool
    /// Threads for blocking calls made on behalf of async callers (store reads, package loading).
    let blockingPool: WorkerPool
    /// Threads that commit store writes, one store at a time each.
    let writerPool: WorkerPool
    let timers: TimerQueue
    private let nextOwner = Atomic<UInt64>(0)

    /// Resources for at most `maxConcurrentTasks` task attempts and `blockingThreads` blocking calls at once.
    public init(maxConcurrentTasks: Int, blockingThreads: Int) {
        taskPool = WorkerPool(name: "cloacina-task", limit: maxConcurrentTasks)
        blockingPool = WorkerPool(name: "cloacina-io", limit: blockingThreads)
        writerPool = WorkerPool(name: "cloacina-writer", limit: max(1, min(blockingThreads, 4)))
        timers = TimerQueue(name: "cloacina-timer")
    }

    /// A tag for one runner's jobs, so its queued jobs can be discarded without touching other runners'.
    func newOwner() -> UInt64 {
        nextOwner.add(1, ordering: .relaxed).newValue
    }

    /// Stops every thread: queued jobs are discarded (and told), timers dropped.
    public func shutdown() {
        taskPool.stop()
        blockingPool.stop()
        writerPool.stop()
        timers.stop()
    }
}
