public import Cloacina
internal import Logging
internal import Synchronization

extension Daemon {
    /// Reloads the drop directory and returns the report of a reload that started after this call (requests made
    /// while a reload runs share the one that follows it).
    public func reload() async -> ReloadReport {
        await withCheckedContinuation { continuation in
            let action = state.withLock { state in
                state.nextWaiter += 1
                state.waiters[state.nextWaiter] = continuation
                return state.scheduler.requested(waiter: state.nextWaiter)
            }
            if case .start = action { startReload() }
        }
    }

    /// Asks for a reload without waiting for it (a signal, a directory watch).
    public func requestReload() {
        let action = state.withLock { $0.scheduler.requested() }
        if case .start = action { startReload() }
    }

    /// The report of the last reload, if any ran.
    public var lastReload: ReloadReport? { state.withLock { $0.lastReload } }

    private func startReload() {
        Task {
            let report = await BlockingCall.run(name: "cloacina-reload") { [self] in performReload() }
            // A tenant out of service may have been repaired: a reload tries it again.
            await retryUnavailable()
            let (waiters, next) = state.withLock { state in
                let (notify, next) = state.scheduler.finished()
                return (notify.compactMap { state.waiters.removeValue(forKey: $0) }, next)
            }
            for waiter in waiters { waiter.resume(returning: report) }
            if case .start = next { startReload() }
        }
    }

    /// Scans the directory, loads what changed, and publishes the next generation. Blocking.
    private func performReload() -> ReloadReport {
        let started = ContinuousClock.now
        let (generation, host) = state.withLock { ($0.generation, $0.hostPackages) }
        let directory = configuration.workflowsDirectory
        var scan: [String: Result<String, ReloadFailure>] = [:]
        do throws(PackageLoadError) {
            for file in try PackageLoader.scan(directory: directory) {
                scan[file.path] = file.sha256.mapError { ReloadFailure($0.description) }
            }
        } catch {
            // Without a listing nothing can be decided: keep serving everything as it is.
            let message = "cannot read the drop directory \(directory): \(error.reason)"
            logger.error("reload failed", metadata: ["error": "\(message)"])
            metrics.reloaded(failures: 1, loadErrors: generation.slots.values.filter { $0.error != nil }.count)
            var report = ReloadReport(generation: generation, summary: ReloadSummary(generation: generation.number))
            report.error = message
            report.duration = ContinuousClock.now - started
            return report
        }
        var loads: [String: Result<LoadedPackage, ReloadFailure>] = [:]
        let changed = generation.filesToLoad(scan)
        // Changed files load in one child process first (when configured), so one that crashes while loading is
        // reported instead of taking the daemon down; only the ones that passed load here.
        for report in PackagePipeline(probe: configuration.probe, loader: loader).load(files: changed) {
            loads[report.file] =
                report.package.map { .success($0) }
                ?? .failure(ReloadFailure(report.error?.description ?? "rejected"))
        }
        // The new images are forced to disk (in one pass) before any execution can be pinned to them.
        do throws(PackageLoadError) {
            try loader.syncCache()
        } catch {
            for (path, outcome) in loads where (try? outcome.get()) != nil {
                loads[path] = .failure(ReloadFailure("cannot make its cached copy durable: \(error.reason)"))
            }
        }
        let reserved = host.map { (name: $0.info.name, workflows: $0.workflows.map(\.name)) }
        var (next, summary) = generation.next(scan, loads: loads, reserved: reserved)
        do throws(CloacinaError) {
            try registry.replace(with: host + next.servingPackages)
        } catch {
            // The generation rules make this impossible; if it happens anyway, nothing changes.
            logger.critical("reload produced an inconsistent generation", metadata: ["error": "\(error)"])
            next = generation
            summary = ReloadSummary(generation: generation.number)
            summary.failed = [("*", error.message)]
        }
        var report = ReloadReport(generation: next, summary: summary)
        report.duration = ContinuousClock.now - started
        state.withLock { state in
            state.generation = next
            state.lastReload = report
        }
        for (path, error) in summary.failed {
            var metadata: Logger.Metadata = ["file": "\(path)", "error": "\(error)"]
            guard let previous = next.slots[path]?.serving else {
                logger.error("package failed to load; nothing of this file is served", metadata: metadata)
                continue
            }
            metadata["serving"] = "\(previous.info.version) (\(previous.contentSHA256))"
            logger.error("package failed to load; its previous version keeps serving", metadata: metadata)
        }
        logger.info(
            "reloaded",
            metadata: [
                "generation": "\(next.number)", "loaded": "\(summary.loaded.count)",
                "failed": "\(summary.failed.count)", "removed": "\(summary.removed.count)",
            ]
        )
        metrics.reloaded(
            failures: summary.failed.count,
            loadErrors: next.slots.values.filter { $0.error != nil }.count
        )
        return report
    }
}
