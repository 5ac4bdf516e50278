public import Cloacina
internal import Logging
internal import Synchronization

extension Daemon {
    /// The quarantined package versions (see ``Quarantine``), by package name.
    public var quarantined: [QuarantineEntry] {
        state.withLock { $0.quarantine.entries.values.sorted { ($0.package, $0.sha256) < ($1.package, $1.sha256) } }
    }

    /// Ends the quarantine of the versions `selector` names: a SHA-256, or a package name (all its versions).
    /// Returns the entries it ended; throws `notFound` when none matched.
    public func unquarantine(_ selector: String) throws(CloacinaError) -> [QuarantineEntry] {
        let released = state.withLock { state in
            let matching = state.quarantine.entries.values.filter { $0.sha256 == selector || $0.package == selector }
            return matching.compactMap { state.quarantine.release($0.sha256) }
        }
        guard !released.isEmpty else {
            throw CloacinaError(.notFound, "no quarantined package version matches \"\(selector)\"")
        }
        for entry in released {
            try quarantineFiles?.remove(entry.sha256)
            logger.notice("quarantine ended by the operator", metadata: entry.metadata)
        }
        quarantineChanged()
        return released
    }

    /// Throws `conflict` when the package version serving `workflow` is quarantined.
    func refuseIfQuarantined(_ workflow: String) throws(CloacinaError) {
        // Read on every submission: no lock while nothing is quarantined.
        guard quarantinedCount.load(ordering: .relaxed) > 0 else { return }
        guard
            let sha256 = registry.currentPackages.first(where: { $0.workflows.contains { $0.name == workflow } })?
                .sha256, let entry = state.withLock({ $0.quarantine.entries[sha256] })
        else { return }
        throw CloacinaError(.conflict, "workflow \(workflow) cannot start: \(entry.reason)")
    }

    /// Throws `conflict` when the package version `sha256` is quarantined (a retry or re-run pinned to it).
    func refuseIfQuarantined(_ workflow: String, sha256: String) throws(CloacinaError) {
        guard quarantinedCount.load(ordering: .relaxed) > 0,
            let entry = state.withLock({ $0.quarantine.entries[sha256] })
        else { return }
        throw CloacinaError(.conflict, "workflow \(workflow) cannot start: \(entry.reason)")
    }

    /// Counts a worker crash against its package version, quarantining the version when the rule says so.
    func recordCrash(_ crash: WorkerCrashes.Crash) {
        let entry = state.withLock { state in
            state.quarantine.record(
                sha256: crash.sha256,
                package: crash.key.package,
                version: crash.key.version,
                cause: crash.cause,
                now: .now,
                wallClock: .now()
            )
        }
        guard let entry else { return }
        logger.error(
            "package version quarantined: new executions of its workflows are refused",
            metadata: entry.metadata
        )
        do throws(CloacinaError) {
            try quarantineFiles?.write(entry)
        } catch {
            logger.error("the quarantine holds until restart only", metadata: ["error": "\(error.message)"])
        }
        metrics.quarantineStarted(entry, count: quarantineChanged(counted: false))
    }

    /// On reload: takes the operator's releases from disk, then ends the quarantine of the `retired` versions (no
    /// longer served).
    func reconcileQuarantine(retired: Set<String>) {
        let onDisk = quarantineFiles?.load()
        for message in onDisk?.ignored ?? [] { logger.warning("quarantine file", metadata: ["error": "\(message)"]) }
        let released = state.withLock { state in
            if let onDisk { state.quarantine.reconcile(with: onDisk.entries) }
            return retired.compactMap { state.quarantine.release($0) }
        }
        for entry in released {
            _ = try? quarantineFiles?.remove(entry.sha256)
            logger.notice("quarantine ended: the version is no longer served", metadata: entry.metadata)
        }
        quarantineChanged()
    }

    /// Publishes the number of quarantined versions (to the submission check and, with `counted`, the metrics);
    /// returns it.
    @discardableResult
    func quarantineChanged(counted: Bool = true) -> Int {
        let count = state.withLock { $0.quarantine.entries.count }
        quarantinedCount.store(count, ordering: .relaxed)
        if counted { metrics.quarantined(count: count) }
        return count
    }

    var quarantineFiles: QuarantineFiles? {
        configuration.quarantineDirectory.map(QuarantineFiles.init(directory:))
    }
}

extension QuarantineEntry {
    var metadata: Logger.Metadata {
        [
            "package": "\(package)", "version": "\(version)", "sha256": "\(sha256)", "crashes": "\(crashes)",
            "last_cause": "\(lastCause)",
        ]
    }
}
