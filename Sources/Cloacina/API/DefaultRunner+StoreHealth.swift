internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// Why the store cannot be written, while it cannot; nil when it works.
    ///
    /// Meanwhile the runner keeps every state change queued and tries the store again with growing pauses (see
    /// `StoreWriter`): running executions wait, since no attempt starts before its start is durable, and go on
    /// once the store works again; new executions are refused with `unavailable`.
    public var storeFailure: String? { runtime.writer.failure?.message }

    /// Throws `unavailable` while the store cannot be written.
    func checkStoreWritable() throws(CloacinaError) {
        guard storeFailure != nil else { return }
        // The store's own message is in the log (it may name paths or servers); callers get what to do.
        throw CloacinaError(
            .unavailable,
            "tenant \(tenant)'s store cannot be written now; new executions are refused until it can (see the log)"
        )
    }

    /// What a caller whose new execution could not be recorded is told: `unavailable` when the store failed,
    /// else `error` itself.
    func refusal(_ error: CloacinaError) -> CloacinaError {
        guard error.code == .storage else { return error }
        runtime.logger.error("could not record a new execution", metadata: ["error": "\(error)"])
        return CloacinaError(.unavailable, "tenant \(tenant)'s store cannot be written now (see the log)")
    }
}
