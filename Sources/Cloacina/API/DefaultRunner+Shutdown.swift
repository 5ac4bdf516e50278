internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// Stops the runner: takes no new executions, starts no new tasks, waits up to `timeout` (default: the
    /// configuration's shutdown timeout) for running attempts, persists everything, and closes the store.
    ///
    /// Executions that have not ended stay in the store with their state, and their claims are released so that
    /// the next runner resumes them at once; attempts still running when the time is up are asked to stop, and will
    /// run again there. Waiters on those executions get a `shuttingDown` error. Calling it again does nothing.
    public func shutdown(timeout: Duration? = nil) async {
        guard let drivers = close() else { return }
        for driver in drivers { driver.setDispatching(false) }
        // Attempts waiting for a free thread never started: they go back to waiting in the store.
        runtime.taskPool.discard(owner: runtime.jobOwner)
        let limit = timeout ?? configuration.shutdownTimeout
        let drained = await runtime.drained(within: limit)
        await runtime.writer.flush()
        let unfinished = activeDrivers
        if !drained {
            // With no execution left, they are attempts already given up (timed out, cancelled): discarded.
            runtime.logger.log(
                level: unfinished.isEmpty ? .debug : .warning,
                unfinished.isEmpty
                    ? "abandoned attempts still running at shutdown; their results are discarded"
                    : "attempts still running at shutdown; they will run again when the executions are resumed",
                metadata: ["running": "\(runtime.runningAttempts)", "waited": "\(limit)"]
            )
        }
        for driver in unfinished {
            driver.stop(CloacinaError(.shuttingDown, "the runner shut down before execution \(driver.id) ended"))
        }
        if !unfinished.isEmpty {
            let owner = runtime.identity.value
            let ids = unfinished.map(\.id)
            do {
                try await runtime.withStore { store throws(StoreError) in
                    try store.releaseLeases(owner: owner, executions: ids)
                }
            } catch {
                runtime.logger.error("could not release execution claims", metadata: ["error": "\(error)"])
            }
        }
        await runtime.writer.stop()
        if runtime.ownsResources {
            runtime.resources.shutdown()
        } else {
            runtime.blockingPool.discard(owner: runtime.jobOwner)
        }
        runtime.store.close()
    }
}
