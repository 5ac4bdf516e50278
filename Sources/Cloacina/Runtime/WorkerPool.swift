internal import Synchronization

/// A set of threads, outside Swift's cooperative pool, that run blocking jobs with a limit on how many run at once.
///
/// Jobs run in submission order as slots free up. A job that hangs can be abandoned: it stops counting against the
/// limit (a new thread takes its place) though its thread stays busy until it returns, because a thread cannot be
/// stopped from outside. Stopping the pool discards jobs not yet started, telling each. (Package-wide: the runners'
/// resources, and `DatabaseAdmin`'s one thread.)
package final class WorkerPool: Sendable {
    /// A unit of work, and what to do instead if it is discarded before it starts.
    struct Job: Sendable {
        var run: @Sendable () -> Void
        var discarded: @Sendable () -> Void = {}
        /// Who submitted it, for ``discard(owner:)``; 0 for nobody in particular.
        var owner: UInt64 = 0
    }

    private let name: String
    private let limit: Int
    private let lock = ConditionLock()
    nonisolated(unsafe) private var queue: [(id: UInt64, job: Job)] = []
    nonisolated(unsafe) private var queueHead = 0
    nonisolated(unsafe) private var running: Set<UInt64> = []
    nonisolated(unsafe) private var threads = 0
    nonisolated(unsafe) private var idle = 0
    nonisolated(unsafe) private var nextID: UInt64 = 0
    nonisolated(unsafe) private var stopped = false

    package init(name: String, limit: Int) {
        self.name = name
        self.limit = max(1, limit)
    }

    /// Queues `job`; returns its id (for ``abandon(_:)``), or nil when the pool is stopped (the job is discarded).
    @discardableResult
    func submit(_ job: Job) -> UInt64? {
        lock.lock()
        guard !stopped else {
            lock.unlock()
            job.discarded()
            return nil
        }
        nextID += 1
        let id = nextID
        queue.append((id, job))
        wakeOrSpawn()
        lock.unlock()
        return id
    }

    /// Stops counting job `id` against the limit, so another job can start while it keeps its thread.
    func abandon(_ id: UInt64) {
        lock.withLock {
            guard running.remove(id) != nil else { return }
            wakeOrSpawn()
        }
    }

    /// Discards the jobs that have not started and lets idle threads exit. Running jobs finish on their own.
    package func stop() {
        let discarded: [Job] = lock.withLock {
            stopped = true
            let pending = queue[queueHead...].map(\.job)
            queue.removeAll()
            queueHead = 0
            lock.broadcast()
            return pending
        }
        for job in discarded { job.discarded() }
    }

    /// Discards job `id` if it has not started (telling it); false when it started, ended or is unknown.
    @discardableResult
    func discard(_ id: UInt64) -> Bool {
        let job: Job? = lock.withLock {
            guard let index = queue[queueHead...].firstIndex(where: { $0.id == id }) else { return nil }
            return queue.remove(at: index).job
        }
        guard let job else { return false }
        job.discarded()
        return true
    }

    /// Discards the jobs of `owner` that have not started (telling each), leaving everyone else's queued.
    func discard(owner: UInt64) {
        let discarded: [Job] = lock.withLock {
            let pending = queue[queueHead...]
            let (mine, others) = (pending.filter { $0.job.owner == owner }, pending.filter { $0.job.owner != owner })
            queue = Array(others)
            queueHead = 0
            return mine.map(\.job)
        }
        for job in discarded { job.discarded() }
    }

    /// Wakes an idle thread, or starts one, when a queued job could start.
    private func wakeOrSpawn() {
        guard queueHead < queue.count, running.count < limit else { return }
        if idle > 0 {
            lock.signal()
        } else {
            threads += 1
            startThread(name: name) { [self] in work() }
        }
    }

    private func work() {
        lock.lock()
        while true {
            if queueHead < queue.count && running.count < limit {
                let (id, job) = queue[queueHead]
                queueHead += 1
                if queueHead > 1024 && queueHead * 2 > queue.count {
                    queue.removeFirst(queueHead)
                    queueHead = 0
                }
                running.insert(id)
                // Another job may be startable too (after an abandon, say).
                wakeOrSpawn()
                lock.unlock()
                job.run()
                lock.lock()
                running.remove(id)
                continue
            }
            if stopped {
                threads -= 1
                lock.unlock()
                return
            }
            idle += 1
            lock.wait()
            idle -= 1
        }
    }
}

extension WorkerPool {
    /// Runs `body` as a job and waits for it without blocking the caller's thread. A job discarded before it
    /// started (the pool stopped, or its owner's jobs were discarded) fails with `discardedError`. Cancelling the
    /// caller's task before the job starts discards it (`cancelled`); once started it runs to its end, as
    /// NIO's `NIOThreadPool.runIfActive` does.
    package func run<T: Sendable>(
        owner: UInt64 = 0,
        discardedError: CloacinaError,
        _ body: @escaping @Sendable () throws(CloacinaError) -> T
    ) async throws(CloacinaError) -> T {
        /// The job's id once queued; `cancelled` once the caller's task was cancelled.
        let ticket = Mutex<(id: UInt64?, cancelled: Bool)>((nil, false))
        let result: Result<T, CloacinaError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let id = submit(
                    Job(
                        run: { continuation.resume(returning: Result { () throws(CloacinaError) in try body() }) },
                        discarded: {
                            let cancelled = ticket.withLock { $0.cancelled }
                            continuation.resume(returning: .failure(cancelled ? Self.cancelledCall : discardedError))
                        },
                        owner: owner
                    )
                )
                let cancelled = ticket.withLock { ticket in
                    ticket.id = id
                    return ticket.cancelled
                }
                if cancelled, let id { discard(id) }
            }
        } onCancel: {
            let id = ticket.withLock { ticket in
                ticket.cancelled = true
                return ticket.id
            }
            if let id { discard(id) }
        }
        return try result.get()
    }

    private static let cancelledCall = CloacinaError(.cancelled, "the call was cancelled before it started")
}
