internal import CloacinaStorage
internal import Logging
internal import Synchronization

/// The single writer of a store: commits everything queued since its last commit in one transaction (group
/// commit), in the order it was queued.
///
/// Executions queue their transitions without waiting; a caller that must know a write is durable (the end of an
/// execution, its creation) passes a completion. Because writes commit in order, a completion also means every
/// write queued before it is durable. Commits run as jobs on the store's own write queue
/// (``ExecutionStore/executor(for:)``), at most one job at a time, so a store's writes stay in order. A batch that
/// fails stays first in line and is tried again on a timer, holding no thread meanwhile, with pauses growing from
/// ``firstPause`` to ``longestRetryPause``; once it has failed for a second or so (a full disk, a database gone),
/// ``failure`` says why, so the runner refuses new executions. Nothing queued is dropped: executions wait (an
/// attempt starts only once its start is durable) and go on when the store works again. Only a batch that breaks a
/// constraint, one the closed store refuses, or one that fails while the writer is stopping, fails its completions.
final class StoreWriter: Sendable {
    typealias Completion = @Sendable (Result<Set<String>, StoreError>) -> Void

    private let store: any ExecutionStore
    private let owner: String
    private let logger: Logger
    private let timers: RunnerTimers
    private let state: Mutex<State>
    /// Whether ``State/failure`` is set.
    private let failing = Atomic<Bool>(false)
    /// Whether a batch failed since the last commit that worked.
    private let retried = Atomic<Bool>(false)
    /// The pause before the first retry of a failed batch; each later one is four times longer, up to
    /// ``longestRetryPause``.
    let firstPause: Duration
    /// The longest pause between tries of a batch the store keeps refusing.
    let longestRetryPause: Duration = .seconds(10)
    /// Pauses before retrying a failed batch; its length is the number of retries.

    private struct State {
        var pending: [StoreWrite] = []
        var completions: [Completion] = []
        /// Whether a commit job for this store is queued or running.
        var scheduled = false
        var stopped = false
        /// Set by ``stop()``: a failing batch fails its completions instead of waiting for the store.
        var stopping = false
        /// Why the store refuses writes, while a batch waits for its next try.
        var failure: StoreError?
        var nextPause: Duration
        var retryTimer: UInt64?
        /// The error of the batch waiting for its retry.
        var lastError: StoreError?
    }

    init(
        store: any ExecutionStore,
        owner: String,
        logger: Logger,
        timers: RunnerTimers,
        firstPause: Duration = .milliseconds(50)
    ) {
        self.store = store
        self.owner = owner
        self.logger = logger
        self.timers = timers
        self.firstPause = firstPause
        self.state = Mutex(State(nextPause: firstPause))
    }

    /// Why the store cannot be written, while queued writes wait for it; nil while it works.
    var failure: StoreError? {
        // Read on every new execution: no lock while the store works.
        guard failing.load(ordering: .relaxed) else { return nil }
        return state.withLock { $0.failure }
    }

    /// Who commits queued writes when no commit is under way.
    enum Committer {
        /// A job on the store's write queue, queued now.
        case queue
        /// The caller's own thread, which promises to call ``commitHere()`` right after (it must be allowed to
        /// block, and must not hold locks the completions take).
        case caller
    }

    /// Queues `writes` to commit after everything queued before; `completion` (if any) runs on the committing
    /// thread once they committed (with the ids of executions whose changes were dropped for want of ownership) or
    /// failed.
    func enqueue(_ writes: [StoreWrite], committer: Committer = .queue, completion: Completion? = nil) {
        let (submit, refused) = state.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, true) }
            state.pending.append(contentsOf: writes)
            if let completion { state.completions.append(completion) }
            guard !state.scheduled, committer == .queue else { return (false, false) }
            state.scheduled = true
            return (true, false)
        }
        if refused {
            // Callers may hold their own locks while enqueuing: never call back on their thread. (A completion is
            // quick: it resumes a waiter or hands a driver its result.)
            if let completion {
                timers.schedule(after: .zero) {
                    completion(.failure(StoreError(.unavailable, "the runner's store writer has stopped")))
                }
            }
            return
        }
        if submit { submitDrain() }
    }

    /// Queues `writes` and waits until they committed (or failed).
    func write(_ writes: [StoreWrite]) async -> Result<Set<String>, StoreError> {
        await withCheckedContinuation { continuation in
            enqueue(writes) { continuation.resume(returning: $0) }
        }
    }

    /// Waits until everything queued so far is committed (or failed).
    func flush() async {
        _ = await write([])
    }

    /// Commits what is queued (failing it at once if the store cannot be written), then refuses later writes.
    func stop() async {
        giveUpWaiting()
        await flush()
        state.withLock { $0.stopped = true }
    }

    /// From now on, writes the store refuses fail instead of waiting; what waits for a retry fails now.
    func giveUpWaiting() {
        let waiting: ([Completion], StoreError)? = state.withLock { state in
            state.stopping = true
            guard let failure = state.lastError, let timer = state.retryTimer else { return nil }
            timers.cancel(timer)
            state.retryTimer = nil
            state.scheduled = false
            state.pending.removeAll()
            defer { state.completions.removeAll() }
            return (state.completions, failure)
        }
        guard let (completions, error) = waiting else { return }
        for completion in completions { completion(.failure(error)) }
    }

    /// Commits what is queued on the calling thread, unless a commit is already under way (which will take it).
    func commitHere() {
        let claimed = state.withLock { state in
            guard !state.scheduled, !state.pending.isEmpty || !state.completions.isEmpty else { return false }
            state.scheduled = true
            return true
        }
        if claimed { drain() }
    }

    /// Queues a job that commits what is queued, on the store's write queue.
    private func submitDrain() {
        store.executor(for: .write).submit({ [self] in drain() }, ifClosed: { [self] in abandon() })
    }

    /// Commits batches until nothing is queued.
    private func drain() {
        while true {
            let taken = state.withLock { state -> ([StoreWrite], [Completion])? in
                guard !state.pending.isEmpty || !state.completions.isEmpty else {
                    state.scheduled = false
                    return nil
                }
                defer {
                    state.pending.removeAll(keepingCapacity: true)
                    state.completions.removeAll(keepingCapacity: true)
                }
                return (state.pending, state.completions)
            }
            guard let (batch, waiting) = taken else { return }
            let result = commit(batch)
            if case .failure(let error) = result, error.code != .constraint, error.code != .closed,
                retryLater(batch, waiting, error)
            {
                return
            }
            switch result {
            case .success: recovered()
            case .failure(let error):
                logger.critical(
                    "could not persist \(batch.count) state changes",
                    metadata: ["store": "\(store.location)", "error": "\(error)"]
                )
            }
            for completion in waiting { completion(result) }
        }
    }

    /// Puts a batch the store refused back first in line and tries again after a pause, without holding a
    /// thread; false when the writer is stopping (the batch fails instead).
    private func retryLater(_ batch: [StoreWrite], _ waiting: [Completion], _ error: StoreError) -> Bool {
        let scheduled = state.withLock { state -> (first: Bool, pause: Duration)? in
            guard !state.stopping else { return nil }
            state.pending = batch + state.pending
            state.completions = waiting + state.completions
            state.lastError = error
            retried.store(true, ordering: .relaxed)
            let pause = state.nextPause
            state.nextPause = min(pause * 4, longestRetryPause)
            // A failure that outlasts the short pauses means the store cannot be written (not a passing hiccup).
            var first = false
            if pause >= .seconds(1) {
                first = state.failure == nil
                state.failure = error
                failing.store(true, ordering: .relaxed)
            }
            state.retryTimer = timers.schedule(after: pause) { [self] in
                self.state.withLock { $0.retryTimer = nil }
                submitDrain()
            }
            return (first, pause)
        }
        guard let (first, pause) = scheduled else { return false }
        if first {
            logger.critical(
                "the store cannot be written; queued state changes wait for it, new executions are refused",
                metadata: ["store": "\(store.location)", "error": "\(error)"]
            )
        } else {
            logger.warning(
                "persisting state changes failed; trying again",
                metadata: ["store": "\(store.location)", "error": "\(error)", "pause": "\(pause)"]
            )
        }
        return true
    }

    private func recovered() {
        // Hot path: one relaxed load while nothing failed.
        guard retried.load(ordering: .relaxed) else { return }
        let was = state.withLock { state in
            defer {
                state.failure = nil
                state.lastError = nil
                state.nextPause = firstPause
                failing.store(false, ordering: .relaxed)
                retried.store(false, ordering: .relaxed)
            }
            return state.failure
        }
        if was != nil {
            logger.notice(
                "the store can be written again; taking new executions",
                metadata: ["store": "\(store.location)"]
            )
        }
    }

    /// The store closed before the commit job ran: fail what waits, and refuse more.
    private func abandon() {
        let waiting = state.withLock { state in
            state.stopped = true
            state.scheduled = false
            defer { state.completions.removeAll() }
            state.pending.removeAll()
            return state.completions
        }
        let error = StoreError(.unavailable, "the runner's store writer has stopped")
        for completion in waiting { completion(.failure(error)) }
    }

    private func commit(_ batch: [StoreWrite]) -> Result<Set<String>, StoreError> {
        guard !batch.isEmpty else { return .success([]) }
        do {
            return .success(try store.write(batch, owner: owner))
        } catch {
            return .failure(error)
        }
    }
}
