public import Cloacina
internal import Logging
internal import Synchronization

extension Daemon {
    /// Reloads the drop directory and returns the report of a reload that started after this call (requests made
    /// while a reload runs share the one that follows it).
    ///
    /// The reload runs in a caller's task, never in a task of its own: the first caller runs it, and callers that
    /// ask meanwhile wait, and one of them runs the next one. So the reload belongs to whatever runs its callers
    /// (a service of the `ServiceGroup`, an HTTP request) and ends with it. A caller whose task is cancelled while
    /// it waits returns at once, with a report whose `error` says so (the reload goes on for the others); one that
    /// is running the reload returns when the files being loaded are (loading cannot be interrupted), and starts no
    /// further reload. Once the daemon drains, nothing is reloaded: the report says the host is shutting down.
    public func reload() async -> ReloadReport {
        let waiter = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let turn = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ReloadTurn, Never>) in
                let turn: ReloadTurn? = state.withLock { state in
                    if Task.isCancelled { return .cancelled }
                    if case .start = state.scheduler.requested(waiter: waiter) { return .lead }
                    state.waiters[waiter] = continuation
                    return nil
                }
                if let turn { continuation.resume(returning: turn) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: waiter) }?.resume(returning: .cancelled)
        }
        switch turn {
        case .report(let report): return report
        case .cancelled: return unfinishedReport("the caller stopped waiting; the reload goes on")
        case .lead: return await leadReload()
        }
    }

    /// The report of the last reload, if any ran.
    public var lastReload: ReloadReport? { state.withLock { $0.lastReload } }

    /// Runs the reload this caller was chosen for, tells its waiters the report, and hands the next reload (asked
    /// for meanwhile) to one of the callers waiting for it.
    private func leadReload() async -> ReloadReport {
        let report: ReloadReport
        if [.draining, .stopped].contains(phase) {
            report = unfinishedReport("the host is shutting down; nothing was reloaded")
        } else {
            do {
                report = try await BlockingCall.run { [self] in performReload() }
            } catch {
                report = unfinishedReport("the reload was cancelled before it started")
            }
            // A tenant out of service may have been repaired: a reload tries it again. Then tenants' credentials
            // that appeared, changed or went take effect.
            if !Task.isCancelled {
                await retryUnavailable()
                await refreshCredentials()
                // Schedules changed by another process (the CLI on SQLite files signals a reload) are read again,
                // and executions it recorded for nobody (a backfill) are claimed.
                for runner in state.withLock({ $0.served.values.map(\.runner) }) {
                    runner.packagesChanged()
                    runner.claimUnowned()
                }
            }
        }
        let (waiting, leader) = state.withLock { state in
            var (notify, next) = state.scheduler.finished()
            var waiting = notify.compactMap { state.waiters.removeValue(forKey: $0) }
            while case .start(let upcoming) = next {
                if let id = upcoming.first(where: { state.waiters[$0] != nil }) {
                    return (waiting, state.waiters.removeValue(forKey: id))
                }
                // Everyone who asked for the next reload stopped waiting: it is not needed.
                (notify, next) = state.scheduler.finished()
                waiting += notify.compactMap { state.waiters.removeValue(forKey: $0) }
            }
            return (waiting, nil)
        }
        for waiter in waiting { waiter.resume(returning: .report(report)) }
        leader?.resume(returning: .lead)
        return report
    }

    /// A report of the current generation for a reload that did not run (or not for this caller), saying why.
    private func unfinishedReport(_ why: String) -> ReloadReport {
        let generation = state.withLock { $0.generation }
        var report = ReloadReport(generation: generation, summary: ReloadSummary(generation: generation.number))
        report.error = why
        return report
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
        // Changed files load in child processes first (when configured), so one that crashes while loading is
        // reported instead of taking the daemon down; only the ones that passed load here. Files still loading
        // when the rest are done (slow ones, with the probe's `slowAfter`) are pending: the generation is published
        // without them and `runPendingLoads` reloads when they finish, so they never hold up the others.
        var (loads, pending, toLoad) = backgroundLoads.sort(generation.filesToLoad(scan), scan: scan)
        let pipeline = PackagePipeline(probe: configuration.probe, loader: loader, for: configuration.runner.invoker)
        let (reports, stillLoading) = pipeline.load(files: toLoad, settling: configuration.probe?.slowAfter != nil)
        for (path, report) in zip(toLoad, reports) {
            guard let report else {
                pending.insert(path)
                continue
            }
            loads[path] =
                report.package.map { .success($0) }
                ?? .failure(ReloadFailure(report.error?.description ?? "rejected"))
        }
        if let stillLoading, !backgroundLoads.track(stillLoading, scan: scan) {
            for path in stillLoading.files {
                pending.remove(path)
                loads[path] = .failure(ReloadFailure("isolation: cancelled: the host is shutting down"))
            }
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
        var (next, summary) = generation.next(scan, loads: loads, pending: pending, reserved: reserved)
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
        // Versions no longer served leave quarantine, and their warm workers are stopped now; executions pinned to
        // such a version start a worker again for each call they still make.
        let served = Set(next.servingPackages.map(\.contentSHA256))
        let retired = Set(generation.servingPackages.map(\.contentSHA256)).subtracting(served)
        reconcileQuarantine(retired: retired)
        if let workers = configuration.runner.invoker as? ProcessTaskInvoker {
            for sha256 in retired { workers.stopWorkers(sha256: sha256) }
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
        if !summary.pending.isEmpty {
            logger.notice(
                "packages still loading; serving the others meanwhile",
                metadata: ["pending": "\(summary.pending.joined(separator: ", "))"]
            )
        }
        logger.info(
            "reloaded",
            metadata: [
                "generation": "\(next.number)", "loaded": "\(summary.loaded.count)",
                "failed": "\(summary.failed.count)", "removed": "\(summary.removed.count)",
                "pending": "\(summary.pending.count)",
            ]
        )
        metrics.reloaded(
            failures: summary.failed.count,
            loadErrors: next.slots.values.filter { $0.error != nil }.count
        )
        return report
    }
}

/// What a caller of ``Daemon/reload()`` is told while it waits: the report of the reload it asked for, that it is to
/// run the next reload itself, or that its task was cancelled.
enum ReloadTurn: Sendable {
    case report(ReloadReport)
    case lead
    case cancelled
}
