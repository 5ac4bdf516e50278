internal import Synchronization

/// A set of threads, outside Swift's cooperative pool, that run blocking jobs with a limit on how many run at once,
/// shared fairly between the owners' shares (the tenants of a host).
///
/// Each job belongs to a share: the one its owner was put in with ``assign(owner:toShare:weight:limit:)``, else
/// the pool's default share. Jobs of one share start in submission order; between shares with a job waiting, a free
/// thread goes to the share with the fewest running jobs for its weight, and shares that tie take turns (see
/// ``FairQueue``). So a tenant that fills every thread with long jobs gets the next free one only when no other
/// tenant with waiting work runs fewer; and a share at its own limit waits without holding up the others.
///
/// A job that hangs can be abandoned: it stops counting against the limits (its pool's and its share's; a new thread
/// takes its place) though its thread stays busy until it returns, because a thread cannot be stopped from outside.
/// Stopping the pool discards jobs not yet started, telling each. (Package-wide: the runners' task threads, and
/// ``BlockingCall``'s.)
package final class WorkerPool: Sendable {
    /// A unit of work, and what to do instead if it is discarded before it starts.
    struct Job: Sendable {
        var run: @Sendable () -> Void
        var discarded: @Sendable () -> Void = {}
        /// Who submitted it, for ``discard(owner:)`` and to find its share; 0 for nobody in particular.
        var owner: UInt64 = 0
    }

    private let name: String
    private let limit: Int
    private let lock = ConditionLock()
    nonisolated(unsafe) private var queue = FairQueue<(id: UInt64, job: Job)>()
    nonisolated(unsafe) private var shareOfOwner: [UInt64: Int] = [:]
    /// The jobs that run and count against the limits, with their shares.
    nonisolated(unsafe) private var running: [UInt64: Int] = [:]
    nonisolated(unsafe) private var threads = 0
    nonisolated(unsafe) private var idle = 0
    nonisolated(unsafe) private var nextID: UInt64 = 0
    nonisolated(unsafe) private var stopped = false

    package init(name: String, limit: Int) {
        self.name = name
        self.limit = max(1, limit)
    }

    /// Puts the jobs `owner` submits from now on in the share named `share` (made on first use, kept for the pool's
    /// life, so owners one after another, such as a tenant's runner reopened, count as one), and sets that share's
    /// weight (at least 1) and limit on its running jobs (nil for the pool's own).
    func assign(owner: UInt64, toShare share: String, weight: Int, limit: Int?) {
        lock.withLock {
            shareOfOwner[owner] = queue.share(named: share, weight: weight, limit: limit)
            wakeOrSpawn()
        }
    }

    /// Puts `owner`'s later jobs back in the default share (an owner that is gone).
    func forget(owner: UInt64) {
        _ = lock.withLock { shareOfOwner.removeValue(forKey: owner) }
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
        queue.append((id, job), to: shareOfOwner[job.owner] ?? FairQueue<(id: UInt64, job: Job)>.defaultShare)
        wakeOrSpawn()
        lock.unlock()
        return id
    }

    /// Stops counting job `id` against the limits, so another job can start while it keeps its thread.
    func abandon(_ id: UInt64) {
        lock.withLock {
            guard let share = running.removeValue(forKey: id) else { return }
            queue.ended(in: share)
            wakeOrSpawn()
        }
    }

    /// Discards the jobs that have not started and lets idle threads exit. Running jobs finish on their own.
    package func stop() {
        let discarded = lock.withLock {
            stopped = true
            lock.broadcast()
            return queue.removeAll { _ in true }
        }
        for (_, job) in discarded { job.discarded() }
    }

    /// Discards job `id` if it has not started (telling it); false when it started, ended or is unknown.
    @discardableResult
    func discard(_ id: UInt64) -> Bool {
        let discarded = lock.withLock { queue.removeAll { $0.id == id } }
        for (_, job) in discarded { job.discarded() }
        return !discarded.isEmpty
    }

    /// Discards the jobs of `owner` that have not started (telling each), leaving everyone else's queued.
    func discard(owner: UInt64) {
        let discarded = lock.withLock { queue.removeAll { $0.job.owner == owner } }
        for (_, job) in discarded { job.discarded() }
    }

    /// Wakes an idle thread, or starts one, when a queued job could start.
    private func wakeOrSpawn() {
        guard queue.hasStartable, running.count < limit else { return }
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
            if running.count < limit, let ((id, job), share) = queue.next() {
                running[id] = share
                // Another job may be startable too (after an abandon, say).
                wakeOrSpawn()
                lock.unlock()
                job.run()
                lock.lock()
                if let share = running.removeValue(forKey: id) { queue.ended(in: share) }
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
