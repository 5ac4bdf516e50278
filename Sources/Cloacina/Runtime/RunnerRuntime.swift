internal import CloacinaStorage
internal import Logging
internal import Synchronization

/// What every execution of a runner shares: the store and its writer, the task threads, the timers, the invoker.
final class RunnerRuntime: Sendable {
    let tenant: String
    let store: any ExecutionStore
    let writer: StoreWriter
    /// The threads: the runner's own, or shared with other runners of the host.
    let resources: RunnerResources
    /// Whether the runner made ``resources`` (and so stops them when it shuts down).
    let ownsResources: Bool
    /// This runner's tag on the jobs it queues in shared pools. Its task attempts count against the task threads'
    /// share named after the tenant, so a tenant is one tenant for fairness and limits also across its runners (one
    /// closed, the next opened).
    let jobOwner: UInt64
    var taskPool: WorkerPool { resources.taskPool }
    var timers: RunnerTimers { resources.timers }
    let invoker: any TaskInvoker
    let identity: RunnerIdentity
    let defaultTimeout: Duration
    let maximumOutputBytes: Int
    /// The bound of an attempt's stored log lines (``DefaultRunner/Configuration/maximumLogLines``).
    let maximumLogLines: Int
    let maximumLogLineBytes: Int
    let logger: Logger
    let observer: (@Sendable (ExecutionEvent) -> Void)?
    private let attempts = Mutex(AttemptCount())

    private struct AttemptCount {
        var running = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    init(
        tenant: String,
        store: any ExecutionStore,
        identity: RunnerIdentity,
        resources: RunnerResources?,
        maxConcurrentTasks: Int,
        tenantShare: TenantShare,
        invoker: any TaskInvoker,
        defaultTimeout: Duration,
        maximumOutputBytes: Int,
        maximumLogLines: Int = 1000,
        maximumLogLineBytes: Int = 8192,
        logger: Logger,
        observer: (@Sendable (ExecutionEvent) -> Void)?
    ) {
        self.tenant = tenant
        self.store = store
        self.identity = identity
        self.ownsResources = resources == nil
        let resources =
            resources ?? RunnerResources(maxConcurrentTasks: maxConcurrentTasks)
        self.resources = resources
        self.jobOwner = resources.newOwner()
        resources.taskPool.assign(
            owner: jobOwner,
            toShare: tenant,
            weight: tenantShare.weight,
            limit: tenantShare.maxConcurrentTasks
        )
        self.writer = StoreWriter(
            store: store,
            owner: identity.value,
            logger: logger,
            timers: resources.timers
        )
        self.invoker = invoker
        self.defaultTimeout = defaultTimeout
        self.maximumOutputBytes = maximumOutputBytes
        self.maximumLogLines = maximumLogLines
        self.maximumLogLineBytes = maximumLogLineBytes
        self.logger = logger
        self.observer = observer
    }

    /// Runs `body` with the store as a job of the store's queue for `access`, its storage errors reported as
    /// ``CloacinaError``s (a call cancelled before it started as `cancelled`, one on a closed store as
    /// `shuttingDown`).
    func withStore<T: Sendable>(
        _ access: StoreAccess,
        _ body: @escaping @Sendable (any ExecutionStore) throws(StoreError) -> T
    ) async throws(CloacinaError) -> T {
        let store = store
        do throws(StoreError) {
            return try await store.executor(for: access).run { () throws(StoreError) in try body(store) }
        } catch {
            throw CloacinaError(error)
        }
    }

    // MARK: Counting attempts, for draining

    func attemptStarted() {
        attempts.withLock { $0.running += 1 }
    }

    func attemptEnded() {
        let waiters: [CheckedContinuation<Bool, Never>] = attempts.withLock { count in
            count.running -= 1
            guard count.running == 0 else { return [] }
            defer { count.waiters.removeAll() }
            return Array(count.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Returns true once no attempt is running, or false when `timeout` passes first.
    func drained(within timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id: UInt64? = attempts.withLock { count in
                guard count.running > 0 else { return nil }
                count.nextWaiter += 1
                count.waiters[count.nextWaiter] = continuation
                return count.nextWaiter
            }
            guard let id else { return continuation.resume(returning: true) }
            timers.schedule(after: timeout) { [self] in
                attempts.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
            }
        }
    }

    var runningAttempts: Int { attempts.withLock { $0.running } }
}
