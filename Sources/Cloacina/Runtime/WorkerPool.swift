internal import Synchronization

/// A set of threads, outside Swift's cooperative pool, that run blocking jobs with a limit on how many run at once,
/// shared fairly between the owners' shares (the tenants of a host).
///
/// Each job belongs to a share: the one its owner was put in with ``assign(owner:toShare:weight:limit:)``, else
/// the pool's default share. Jobs of one share start in submission order; between shares with a job waiting, a free
/// thread goes to the share with the fewest running jobs for its weight (running divided by weight, in whole
/// steps), and shares that tie take turns. So a tenant that fills every thread with long jobs gets the next free one
/// only when no other tenant with waiting work runs fewer; and a share at its own limit waits without holding up the
/// others. Starting a job costs the same whatever the number of shares.
///
/// A job that hangs can be abandoned: it stops counting against the limits (its pool's and its share's; a new thread
/// takes its place) though its thread stays busy until it returns, because a thread cannot be stopped from outside.
/// Stopping the pool discards jobs not yet started, telling each. (Package-wide: the runners' resources, and
/// `DatabaseAdmin`'s one thread.)
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
    /// The share of owners put in none; FIFO when it is the only one, as for blocking calls.
    nonisolated(unsafe) private let defaultShare = Share()
    nonisolated(unsafe) private var shares: [String: Share] = [:]
    nonisolated(unsafe) private var shareOfOwner: [UInt64: Share] = [:]
    /// The shares with a job that may start, listed by level (running jobs divided by weight), in turn within one.
    nonisolated(unsafe) private var levels: [Level] = []
    /// No share is listed below this level.
    nonisolated(unsafe) private var lowest = 0
    nonisolated(unsafe) private var listed = 0
    /// The jobs that run and count against the limits, with their shares.
    nonisolated(unsafe) private var running: [UInt64: Share] = [:]
    nonisolated(unsafe) private var threads = 0
    nonisolated(unsafe) private var idle = 0
    nonisolated(unsafe) private var nextID: UInt64 = 0
    nonisolated(unsafe) private var stopped = false

    /// The waiting jobs of a share and how many of its jobs run. Guarded by the pool's lock.
    private final class Share {
        var jobs: [(id: UInt64, job: Job)] = []
        var head = 0
        var running = 0
        var weight = 1
        var limit = Int.max
        /// The level the share is listed at (-1 when not listed), and its neighbours there.
        var level = -1
        var previous: Share?
        var next: Share?

        var hasWaiting: Bool { head < jobs.count }
        var pending: ArraySlice<(id: UInt64, job: Job)> { jobs[head...] }

        /// Takes the first waiting job.
        func take() -> (id: UInt64, job: Job) {
            let first = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return first
        }

        /// Replaces the waiting jobs.
        func keep(_ pending: [(id: UInt64, job: Job)]) {
            jobs = pending
            head = 0
        }
    }

    /// The shares listed at one level, first to last.
    private struct Level {
        var first: Share?
        var last: Share?
    }

    package init(name: String, limit: Int) {
        self.name = name
        self.limit = max(1, limit)
    }

    /// Puts the jobs `owner` submits from now on in the share named `share` (made on first use, kept for the pool's
    /// life, so owners one after another, such as a tenant's runner reopened, count as one), and sets that share's
    /// weight (at least 1) and limit on its running jobs (nil for the pool's own).
    func assign(owner: UInt64, toShare share: String, weight: Int, limit: Int?) {
        lock.withLock {
            let target = shares[share] ?? Share()
            shares[share] = target
            shareOfOwner[owner] = target
            target.weight = max(1, weight)
            target.limit = max(1, limit ?? Int.max)
            relist(target)
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
        let share = shareOfOwner.isEmpty ? defaultShare : shareOfOwner[job.owner] ?? defaultShare
        share.jobs.append((id, job))
        if share.level < 0 { list(share) }
        wakeOrSpawn()
        lock.unlock()
        return id
    }

    /// Stops counting job `id` against the limits, so another job can start while it keeps its thread.
    func abandon(_ id: UInt64) {
        lock.withLock {
            guard let share = running.removeValue(forKey: id) else { return }
            ended(share)
            wakeOrSpawn()
        }
    }

    /// Discards the jobs that have not started and lets idle threads exit. Running jobs finish on their own.
    package func stop() {
        let discarded: [Job] = lock.withLock {
            stopped = true
            var pending: [Job] = []
            for share in allShares {
                pending += share.pending.map(\.job)
                share.keep([])
                unlist(share)
            }
            lock.broadcast()
            return pending
        }
        for job in discarded { job.discarded() }
    }

    /// Discards job `id` if it has not started (telling it); false when it started, ended or is unknown.
    @discardableResult
    func discard(_ id: UInt64) -> Bool {
        let job: Job? = lock.withLock {
            for share in allShares {
                guard let index = share.pending.firstIndex(where: { $0.id == id }) else { continue }
                let job = share.jobs.remove(at: index).job
                relist(share)
                return job
            }
            return nil
        }
        guard let job else { return false }
        job.discarded()
        return true
    }

    /// Discards the jobs of `owner` that have not started (telling each), leaving everyone else's queued.
    func discard(owner: UInt64) {
        let discarded: [Job] = lock.withLock {
            var mine: [Job] = []
            for share in allShares where share.pending.contains(where: { $0.job.owner == owner }) {
                mine += share.pending.filter { $0.job.owner == owner }.map(\.job)
                share.keep(share.pending.filter { $0.job.owner != owner })
                relist(share)
            }
            return mine
        }
        for job in discarded { job.discarded() }
    }

    private var allShares: [Share] { [defaultShare] + shares.values }

    // MARK: Listing shares (the lock held)

    /// Lists `share` at the end of its level if it has a job that may start (it is not listed).
    private func list(_ share: Share) {
        guard share.hasWaiting && share.running < share.limit else { return }
        let level = share.running / share.weight
        while levels.count <= level { levels.append(Level()) }
        share.level = level
        share.previous = levels[level].last
        if let last = levels[level].last { last.next = share } else { levels[level].first = share }
        levels[level].last = share
        listed += 1
        lowest = min(lowest, level)
    }

    private func unlist(_ share: Share) {
        guard share.level >= 0 else { return }
        let level = share.level
        if let previous = share.previous { previous.next = share.next } else { levels[level].first = share.next }
        if let next = share.next { next.previous = share.previous } else { levels[level].last = share.previous }
        share.previous = nil
        share.next = nil
        share.level = -1
        listed -= 1
    }

    /// Lists `share` again after its jobs, counts or settings changed.
    private func relist(_ share: Share) {
        unlist(share)
        list(share)
    }

    /// The share whose first waiting job starts next.
    private func nextShare() -> Share? {
        guard listed > 0 else { return nil }
        while levels[lowest].first == nil { lowest += 1 }
        return levels[lowest].first
    }

    /// One of `share`'s jobs stopped counting against the limits.
    private func ended(_ share: Share) {
        share.running -= 1
        relist(share)
    }

    /// Wakes an idle thread, or starts one, when a queued job could start.
    private func wakeOrSpawn() {
        guard listed > 0, running.count < limit else { return }
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
            if running.count < limit, let share = nextShare() {
                let (id, job) = share.take()
                share.running += 1
                // To the end of its (new) level: shares that tie take turns.
                relist(share)
                running[id] = share
                // Another job may be startable too (after an abandon, say).
                wakeOrSpawn()
                lock.unlock()
                job.run()
                lock.lock()
                if let share = running.removeValue(forKey: id) { ended(share) }
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
