internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// Why the store could not be written, while it cannot; nil when it works.
    ///
    /// When a write fails for good (a full disk, a database gone), the executions it concerned stop here and the
    /// runner refuses new executions (`unavailable`); it keeps trying to take its unfinished executions back from
    /// the store, with growing pauses, and once that works it takes new work again. No attempt starts without a
    /// durable record of its start, so nothing runs twice meanwhile.
    public var storeFailure: String? { storeFailureState }

    /// Throws `unavailable` while the store cannot be written.
    func checkStoreWritable() throws(CloacinaError) {
        guard let failure = storeFailureState else { return }
        throw CloacinaError(
            .unavailable,
            "tenant \(tenant)'s store cannot be written (\(failure)); new executions are refused until it can"
        )
    }

    /// What a caller whose new execution could not be recorded is told: `unavailable` when the store cannot be
    /// written (noting the failure), else `error` itself.
    func refusal(_ error: CloacinaError) -> CloacinaError {
        guard error.code == .storage else { return error }
        storeFailed(error)
        return CloacinaError(.unavailable, "tenant \(tenant)'s store cannot be written: \(error.message)")
    }

    /// Notes a failed write (from a driver that stopped for it, or a creation that failed) and starts recovering.
    func storeFailed(_ error: CloacinaError) {
        guard error.code == .storage, markStoreFailed(error.message) else { return }
        runtime.logger.critical(
            "the store cannot be written; refusing new executions until it can",
            metadata: ["error": "\(error)"]
        )
        scheduleStoreRecovery(after: .seconds(1))
    }

    private func scheduleStoreRecovery(after delay: Duration) {
        guard !isClosed else { return }
        runtime.timers.schedule(after: delay) { [weak self] in
            guard let self, !isClosed else { return }
            Task {
                do {
                    let report = try await resumeUnfinished()
                    clearStoreFailure()
                    runtime.logger.notice(
                        "the store can be written again; taking new executions",
                        metadata: ["resumed": "\(report.resumed.count)"]
                    )
                } catch {
                    scheduleStoreRecovery(after: min(delay * 2, .seconds(10)))
                }
            }
        }
    }
}
