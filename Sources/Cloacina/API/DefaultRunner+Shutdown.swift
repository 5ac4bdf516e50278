internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// Stops the runner: takes no new executions, lets running executions go on to their end for up to `timeout`
    /// (default: the configuration's shutdown timeout), then starts no new tasks, persists everything, and closes
    /// the store.
    ///
    /// Executions that have not ended by then stay in the store with their state, and their claims are released so
    /// that the next runner resumes them at once; attempts still running are asked to stop (each was recorded as
    /// started, so it counts as an attempt, and the next runner runs the task again as the next attempt). Attempts
    /// waiting for a free thread never start. Waiters on unfinished executions get a `shuttingDown` error. Calling
    /// it again does nothing.
    public func shutdown(timeout: Duration? = nil) async {
        guard let drivers = close() else { return }
        let limit = timeout ?? configuration.shutdownTimeout
        if !(await Self.ended(drivers, within: limit)) {
            let left = activeDrivers
            for driver in left { driver.setDispatching(false) }
            // Attempts waiting for a free thread never started: they go back to waiting in the store.
            runtime.taskPool.discard(owner: runtime.jobOwner)
            if !left.isEmpty {
                runtime.logger.warning(
                    "executions unfinished at shutdown; the next start resumes them",
                    metadata: [
                        "executions": "\(left.map(\.id).sorted().joined(separator: ","))",
                        "running attempts": "\(runtime.runningAttempts)", "waited": "\(limit)",
                    ]
                )
            }
        }
        // A store that cannot be written is not waited for: what it has is what the next start resumes.
        runtime.writer.giveUpWaiting()
        await runtime.writer.flush()
        let unfinished = activeDrivers
        stopHeartbeat()
        for driver in unfinished {
            driver.stop(CloacinaError(.shuttingDown, "the runner shut down before execution \(driver.id) ended"))
        }
        if !unfinished.isEmpty {
            let owner = runtime.identity.value
            let ids = unfinished.map(\.id)
            do {
                try await runtime.withStore(.write) { store throws(StoreError) in
                    try store.releaseLeases(owner: owner, executions: ids)
                }
            } catch {
                runtime.logger.error("could not release execution claims", metadata: ["error": "\(error)"])
            }
        }
        await withdrawHost()
        await runtime.writer.stop()
        if runtime.ownsResources {
            runtime.resources.shutdown()
        } else {
            runtime.taskPool.forget(owner: runtime.jobOwner)
        }
        runtime.store.close()
    }

    /// Waits until every one of `drivers` ended (or gave up) or is paused with nothing running, or `limit` passed;
    /// true when they all did.
    private static func ended(_ drivers: [ExecutionDriver], within limit: Duration) async -> Bool {
        guard !drivers.isEmpty else { return true }
        guard limit > .zero else { return drivers.allSatisfy { $0.isSettled } }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for driver in drivers { try? await driver.wait(untilSettled: true) }
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
