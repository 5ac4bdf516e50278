internal import Dispatch
internal import Synchronization

/// The serial queue that owns one database connection of a store: every use of the connection runs on it, one job
/// at a time, in the order the jobs came (GRDB's `SerializedDatabase`, on a Dispatch queue of its own).
///
/// Blocking callers use ``sync(_:)``; async callers ``run(_:)``, which waits without holding a thread and gives up
/// a job that has not started when the caller's task is cancelled; fire-and-forget work (a commit, a lease renewal)
/// uses ``submit(_:ifClosed:)``. A call made from a job already on the queue runs at once, in that job (so a store
/// method may be called from inside a job of its own queue). After ``close(_:)`` jobs that have not started fail
/// with `closed` instead of running. It does not retry, time out, or know the connection it guards.
public final class StoreQueue: Sendable {
    /// What the store's messages call it: `sqlite:/data/acme.db (writer)`.
    public let label: String
    private let queue: DispatchQueue
    private let closed = Atomic<Bool>(false)
    /// Jobs queued or running.
    private let jobs = Atomic<Int>(0)
    private static let key = DispatchSpecificKey<ObjectIdentifier>()

    public init(label: String) {
        self.label = label
        self.queue = DispatchQueue(label: "cloacina-store \(label)")
        queue.setSpecific(key: Self.key, value: ObjectIdentifier(self))
    }

    /// Whether the calling thread runs a job of this queue.
    public var isCurrent: Bool { DispatchQueue.getSpecific(key: Self.key) == ObjectIdentifier(self) }

    /// Whether ``close(_:)`` was called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// How many jobs are queued or running: for a store with several queues, to pick the least busy.
    public var load: Int { jobs.load(ordering: .relaxed) }

    /// Runs `body` as a job and blocks the calling thread until it ran (at once when called from a job of this
    /// queue). Throws `closed` when the queue is closed before the job starts.
    public func sync<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        if isCurrent { return try body() }
        guard !isClosed else { throw closedError }
        jobs.add(1, ordering: .relaxed)
        defer { jobs.subtract(1, ordering: .relaxed) }
        let result: Result<T, StoreError> = queue.sync {
            guard !isClosed else { return .failure(closedError) }
            return Result { () throws(StoreError) in try body() }
        }
        return try result.get()
    }

    /// Runs `body` as a job and waits for it without blocking the caller's thread. Throws `cancelled` when the
    /// caller's task is cancelled before the job starts (at once, without waiting for its turn; once started it runs
    /// to its end), `closed` when the queue is closed first.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        /// The waiting caller, until the job or the cancellation takes it; `cancelled` once the task was cancelled.
        let waiter = Mutex<(continuation: CheckedContinuation<Result<T, StoreError>, Never>?, cancelled: Bool)>(
            (nil, false)
        )
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, StoreError>, Never>) in
                let cancelled = waiter.withLock { waiter in
                    if !waiter.cancelled { waiter.continuation = continuation }
                    return waiter.cancelled
                }
                guard !cancelled else { return continuation.resume(returning: .failure(Self.cancelledError)) }
                submit {
                    guard let continuation = waiter.withLock({ $0.continuation.take() }) else { return }
                    continuation.resume(returning: Result { () throws(StoreError) in try body() })
                } ifClosed: { [closedError] in
                    waiter.withLock { $0.continuation.take() }?.resume(returning: .failure(closedError))
                }
            }
        } onCancel: {
            waiter.withLock { waiter in
                waiter.cancelled = true
                return waiter.continuation.take()
            }?.resume(returning: .failure(Self.cancelledError))
        }
        return try result.get()
    }

    /// Queues `body` and returns at once; when the queue is closed before it starts, `ifClosed` runs instead (on
    /// the queue, or on the calling thread when it is closed already).
    public func submit(_ body: @escaping @Sendable () -> Void, ifClosed: @escaping @Sendable () -> Void = {}) {
        guard !isClosed else { return ifClosed() }
        jobs.add(1, ordering: .relaxed)
        queue.async { [self] in
            if isClosed { ifClosed() } else { body() }
            jobs.subtract(1, ordering: .relaxed)
        }
    }

    /// Refuses jobs from now on (those queued fail with `closed` when their turn comes), waits for the running job,
    /// then runs `last` (which drops the connection) as the queue's final job. Called from a job of this queue,
    /// `last` runs at once.
    public func close(_ last: () -> Void = {}) {
        closed.store(true, ordering: .releasing)
        if isCurrent { return last() }
        queue.sync { last() }
    }

    private var closedError: StoreError { StoreError(.closed, "\(label) is closed") }
    private static let cancelledError = StoreError(.cancelled, "the store call was cancelled before it started")
}
