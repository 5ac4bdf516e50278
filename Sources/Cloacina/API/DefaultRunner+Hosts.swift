internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// This runner's host in ``HostRecord``s: `host/pid/start-time`, shared by the runners of the process.
    public var hostID: String { runtime.identity.process }

    /// The hosts that announced themselves in this runner's store (``Configuration/announcement``), live or recently
    /// gone, each with the unfinished executions it owns.
    public func hosts() async throws(CloacinaError) -> [HostRecord] {
        try await runtime.withStore(.read) { store throws(StoreError) in try store.hosts() }
    }

    /// Writes this host's entry, valid for a lease when the runner refreshes it (with ``Configuration/takeoverInterval``,
    /// at every sweep), else until it is withdrawn at shutdown (a store one host serves at a time). In the background.
    func announceHost() {
        guard let announcement = configuration.announcement, !isClosed else { return }
        let now = Timestamp.now()
        let record = HostRecord(
            id: runtime.identity.process,
            address: announcement.address,
            version: announcement.version,
            capacity: configuration.maxConcurrentTasks,
            startedAt: startedAt,
            heartbeatAt: now,
            expiresAt: configuration.takeoverInterval == nil
                ? Timestamp(milliseconds: Int64.max / 2) : now + configuration.leaseDuration
        )
        let store = runtime.store
        let logger = runtime.logger
        store.executor(for: .write).submit {
            do {
                try store.announceHost(record)
            } catch {
                logger.warning("could not announce this host in the store", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Removes this host's entry, at shutdown.
    func withdrawHost() async {
        guard configuration.announcement != nil else { return }
        let id = runtime.identity.process
        do {
            try await runtime.withStore(.write) { store throws(StoreError) in try store.withdrawHost(id) }
        } catch {
            runtime.logger.warning("could not withdraw this host from the store", metadata: ["error": "\(error)"])
        }
    }
}
