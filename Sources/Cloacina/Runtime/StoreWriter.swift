internal import CloacinaModel
internal import CloacinaStorage
internal import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// The single writer of a store: one thread that commits everything queued since its last commit in one
/// transaction (group commit), in the order it was queued.
///
/// Executions queue their transitions without waiting; a caller that must know a write is durable (the end of an
/// execution, its creation) passes a completion. Because writes commit in order, a completion also means every
/// write queued before it is durable. A batch that fails is tried again a few times with growing pauses before its
/// completions are told of the failure.
final class StoreWriter: Sendable {
    typealias Completion = @Sendable (Result<Set<String>, StoreError>) -> Void

    private let store: any ExecutionStore
    private let owner: String
    private let logger: Logger
    private let lock = ConditionLock()
    nonisolated(unsafe) private var pending: [StoreWrite] = []
    nonisolated(unsafe) private var completions: [Completion] = []
    nonisolated(unsafe) private var stopped = false
    /// Pauses before retrying a failed batch; its length is the number of retries.
    private let retryPauses: [Duration] = [.milliseconds(50), .milliseconds(500), .seconds(2), .seconds(5)]

    init(store: any ExecutionStore, owner: String, logger: Logger) {
        self.store = store
        self.owner = owner
        self.logger = logger
        startThread(name: "cloacina-writer") { [self] in loop() }
    }

    /// Queues `writes` to commit after everything queued before; `completion` (if any) runs on the writer thread
    /// once they committed (with the ids of executions whose changes were dropped for want of ownership) or failed.
    func enqueue(_ writes: [StoreWrite], completion: Completion? = nil) {
        lock.withLock {
            guard !stopped else {
                // Callers may hold their own locks while enqueuing: never call back on their thread.
                if let completion {
                    startThread(name: "cloacina-writer-late") {
                        completion(.failure(StoreError(.unavailable, "the runner's store writer has stopped")))
                    }
                }
                return
            }
            pending.append(contentsOf: writes)
            if let completion { completions.append(completion) }
            lock.signal()
        }
    }

    /// Waits until everything queued so far is committed (or failed).
    func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            enqueue([]) { _ in continuation.resume() }
        }
    }

    /// Commits what is queued, then ends the thread; later writes fail at once.
    func stop() async {
        await flush()
        lock.withLock {
            stopped = true
            lock.signal()
        }
    }

    private func loop() {
        lock.lock()
        while true {
            if pending.isEmpty && completions.isEmpty {
                if stopped { break }
                lock.wait()
                continue
            }
            let batch = pending
            let waiting = completions
            pending.removeAll(keepingCapacity: true)
            completions.removeAll(keepingCapacity: true)
            lock.unlock()
            let result = commit(batch)
            for completion in waiting { completion(result) }
            lock.lock()
        }
        lock.unlock()
    }

    private func commit(_ batch: [StoreWrite]) -> Result<Set<String>, StoreError> {
        guard !batch.isEmpty else { return .success([]) }
        var attempt = 0
        while true {
            do {
                return .success(try store.write(batch, owner: owner))
            } catch {
                guard attempt < retryPauses.count, error.code != .constraint else {
                    logger.critical(
                        "could not persist \(batch.count) state changes",
                        metadata: ["store": "\(store.location)", "error": "\(error)"]
                    )
                    return .failure(error)
                }
                logger.warning(
                    "persisting state changes failed; retrying",
                    metadata: ["store": "\(store.location)", "error": "\(error)", "attempt": "\(attempt + 1)"]
                )
                usleep(UInt32(retryPauses[attempt].inMilliseconds * 1000))
                attempt += 1
            }
        }
    }
}
