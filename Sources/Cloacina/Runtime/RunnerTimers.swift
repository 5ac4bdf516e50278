@_spi(CloacinaEngine) internal import CloacinaModel
internal import Synchronization

/// The runtime's timers: retry delays, attempt time limits, lease heartbeats, idle release, writer retries.
///
/// Deadlines wait in one heap on an injected clock (`ContinuousClock` in production, a manual clock in tests);
/// ``run()`` sleeps on that clock until the earliest deadline and runs what is due. Setting or cancelling a timer
/// takes a lock and touches the heap, nothing more: the sleeping loop is woken only by a deadline earlier than the
/// one it sleeps to (postgres-nio's pool starts a child task per timer instead; an engine sets one per attempt, so
/// it keeps them in a heap). Actions run in ``run()``'s task and must be short and never block: they hand work to
/// a pool or a store writer.
///
/// The loop runs in the task of whoever calls ``run()`` (a host's task group); until someone does, or after their
/// task ended, the first timer set starts it in a task of the timers' own, which the next ``run()`` takes over,
/// so a timer never waits for a loop nobody started.
///
/// Not a scheduler of recurring work by itself (an action schedules its successor), and not durable: persisted
/// times (a retry's `next_retry_at`) are converted into delays by their owners.
final class RunnerTimers: Sendable {
    /// A deadline in the heap; its work is in ``State/live`` until it runs or is cancelled.
    private struct Entry {
        var deadline: Duration
        var id: UInt64
    }

    private enum Work {
        /// Short and synchronous: runs in the loop.
        case action(@Sendable () -> Void)
        /// Asynchronous: runs as a child task of the loop's task group.
        case job(@Sendable () async -> Void)
    }

    private struct State {
        var heap = Heap<Entry> { $0.deadline < $1.deadline }
        /// The work of timers scheduled and neither run nor cancelled, by id: a cancelled timer lets go of its work
        /// (and what that holds, such as an ended execution) at once, not when its deadline leaves the heap.
        var live: [UInt64: Work] = [:]
        var nextID: UInt64 = 0
        var stopped = false
        /// The deadline the loop sleeps to (nil: until woken); an earlier one wakes it.
        var sleepingUntil: Duration?
        /// Whether the loop is between reading the heap and sleeping, or asleep.
        var sleeping = false
        /// Set when a wake-up arrived before the loop went to sleep.
        var woken = false
        var sleeper: CheckedContinuation<Void, Never>?
        var loop = Loop.idle
    }

    /// Who runs the loop.
    private enum Loop {
        case idle
        /// A task of the timers' own, started by a timer set while nobody ran the loop.
        case own(Task<Void, Never>)
        /// A caller of ``run()``.
        case caller
    }

    private let state = Mutex(State())
    /// The clock's time, as a duration since the timers were made.
    private let now: @Sendable () -> Duration
    /// Sleeps until a time given as ``now``'s durations; throws when cancelled.
    private let sleepUntil: @Sendable (Duration) async throws -> Void

    /// Timers on `clock`.
    init<TimerClock: Clock>(clock: TimerClock) where TimerClock.Duration == Duration {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleepUntil = { offset in try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil) }
    }

    convenience init() {
        self.init(clock: ContinuousClock())
    }

    /// Runs `action` once `delay` has passed; returns an id for ``cancel(_:)``. After ``stop()`` nothing runs.
    @discardableResult
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        add(.action(action), after: delay)
    }

    /// Runs `job` now as a child task of ``run()``'s task group (background work of a runner: resuming executions
    /// once their package arrived); cancelled with the loop. After ``stop()`` nothing runs.
    func spawn(_ job: @escaping @Sendable () async -> Void) {
        _ = add(.job(job), after: .zero)
    }

    private func add(_ work: Work, after delay: Duration) -> UInt64 {
        let deadline = now() + max(delay, .zero)
        let (id, wake) = state.withLock { state -> (UInt64, CheckedContinuation<Void, Never>?) in
            state.nextID += 1
            guard !state.stopped else { return (state.nextID, nil) }
            state.heap.insert(Entry(deadline: deadline, id: state.nextID))
            state.live[state.nextID] = work
            startOwnLoopIfIdle(&state)
            guard state.sleeping, state.sleepingUntil.map({ deadline < $0 }) ?? true else {
                return (state.nextID, nil)
            }
            state.sleeping = false
            guard let sleeper = state.sleeper else {
                state.woken = true
                return (state.nextID, nil)
            }
            state.sleeper = nil
            return (state.nextID, sleeper)
        }
        wake?.resume()
        return id
    }

    /// Forgets a scheduled action; harmless if it already ran. Cancelled entries leave the heap when it holds
    /// twice as many entries as live ones, so timers set and cancelled at a high rate (a time limit per attempt)
    /// do not pile up until their deadlines.
    func cancel(_ id: UInt64) {
        // The work is released after the lock: what it holds may take a while to free.
        let work = state.withLock { state -> Work? in
            let work = state.live.removeValue(forKey: id)
            guard work != nil, state.heap.count > 1024, state.heap.count > 2 * state.live.count else { return work }
            let live = state.live
            state.heap.removeAll { live[$0.id] == nil }
            return work
        }
        withExtendedLifetime(work) {}
    }

    /// The entries the heap holds (live or cancelled and not yet dropped).
    var heldEntries: Int { state.withLock { $0.heap.count } }

    /// Drops every timer and refuses new ones; ``run()`` returns.
    func stop() {
        let sleeper = state.withLock { state in
            state.stopped = true
            state.heap.removeAll()
            state.live.removeAll()
            defer { state.sleeper = nil }
            return state.sleeper
        }
        sleeper?.resume()
    }

    /// Runs the loop in the caller's task until it is cancelled or ``stop()`` is called, taking over from the
    /// timers' own task if one runs; jobs still running at the end are cancelled and waited for. Timers outlive a
    /// cancelled loop: the next timer set, or the next ``run()``, goes on with them. Returns at once when another
    /// caller runs the loop.
    func run() async {
        let own = state.withLock { state -> Task<Void, Never>?? in
            switch state.loop {
            case .caller: return nil
            case .idle:
                state.loop = .caller
                return .some(nil)
            case .own(let task):
                state.loop = .caller
                return task
            }
        }
        guard let own else { return }
        if let own {
            own.cancel()
            await own.value
        }
        await runLoop()
        state.withLock { state in
            state.loop = .idle
            // Timers set before the caller's task ended still run.
            if !state.stopped && !state.live.isEmpty { startOwnLoopIfIdle(&state) }
        }
    }

    /// Starts the loop in a task of the timers' own when nobody runs it.
    private func startOwnLoopIfIdle(_ state: inout State) {
        guard case .idle = state.loop else { return }
        state.loop = .own(Task { await self.runLoop() })
    }

    /// The loop itself: runs due work until the task is cancelled or ``stop()`` is called.
    private func runLoop() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                switch runDue() {
                case .stopped:
                    group.cancelAll()
                    return
                case .spawn(let job): group.addTask { await job() }
                case .sleep(let deadline): await sleep(until: deadline)
                }
            }
            group.cancelAll()
        }
    }

    private enum Next {
        /// Sleep until the deadline, or until woken when nil.
        case sleep(until: Duration?)
        case spawn(@Sendable () async -> Void)
        case stopped
    }

    /// Runs every due action, one at a time outside the lock; says what the loop does next.
    private func runDue() -> Next {
        enum Step {
            case run(@Sendable () -> Void)
            case next(Next)
        }
        while true {
            let step = state.withLock { state -> Step in
                guard !state.stopped else { return .next(.stopped) }
                state.sleeping = true
                while let first = state.heap.first {
                    if first.deadline > now() {
                        state.sleepingUntil = first.deadline
                        return .next(.sleep(until: first.deadline))
                    }
                    let entry = state.heap.popMin()!
                    guard let work = state.live.removeValue(forKey: entry.id) else { continue }
                    state.sleeping = false
                    switch work {
                    case .action(let action): return .run(action)
                    case .job(let job): return .next(.spawn(job))
                    }
                }
                state.sleepingUntil = nil
                return .next(.sleep(until: nil))
            }
            switch step {
            case .run(let action): action()
            case .next(let next): return next
            }
        }
    }

    /// Sleeps until `deadline` (or until woken, when nil), or until an earlier deadline is set, or cancellation.
    private func sleep(until deadline: Duration?) async {
        await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { [sleepUntil] in try? await sleepUntil(deadline) }
            }
            group.addTask { await self.wakeUp() }
            await group.next()
            group.cancelAll()
        }
        state.withLock { state in
            state.sleeping = false
            state.woken = false
            state.sleeper = nil
        }
    }

    /// Returns when a deadline earlier than the one slept to is set, ``stop()`` is called, or the task is cancelled.
    private func wakeUp() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    guard !state.woken, state.sleeping, !state.stopped, !Task.isCancelled else { return true }
                    state.sleeper = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                defer { state.sleeper = nil }
                return state.sleeper
            }
            sleeper?.resume()
        }
    }
}
