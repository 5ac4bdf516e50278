public import Cloacina
internal import Synchronization

/// Package files that were still loading when a reload published its generation (slow loads: see
/// ``PackageProbe/slowAfter``), and what became of them.
///
/// A reload hands its ``PendingLoads`` here and reports the files as pending; ``Daemon/runPendingLoads()`` waits for
/// them off the cooperative pool, keeps their outcomes, and reloads, and that reload serves (or fails) them without
/// loading them again. A file whose content changed meanwhile is loaded again, its stale outcome dropped.
final class BackgroundLoads: Sendable {
    private struct State {
        /// Path → SHA-256 of the content loading in the background.
        var loading: [String: String] = [:]
        /// Path → the outcome of a background load, with the SHA-256 of the content it loaded.
        var finished: [String: (sha256: String?, result: Result<LoadedPackage, ReloadFailure>)] = [:]
        var running: [ObjectIdentifier: PendingLoads] = [:]
        var stopped = false
    }

    private let state = Mutex(State())
    let requests: AsyncStream<PendingLoads>
    private let continuation: AsyncStream<PendingLoads>.Continuation

    init() {
        (requests, continuation) = AsyncStream.makeStream(of: PendingLoads.self)
    }

    /// Splits `changed` files into outcomes already known (a background load of their current content finished),
    /// files still loading, and files to load now.
    func sort(
        _ changed: [String],
        scan: [String: Result<String, ReloadFailure>]
    ) -> (known: [String: Result<LoadedPackage, ReloadFailure>], loading: Set<String>, load: [String]) {
        state.withLock { state in
            var known: [String: Result<LoadedPackage, ReloadFailure>] = [:]
            var loading: Set<String> = []
            var load: [String] = []
            for path in changed {
                guard case .success(let sha256)? = scan[path] else { continue }
                if let done = state.finished.removeValue(forKey: path), done.sha256 == sha256 {
                    known[path] = done.result
                } else if state.loading[path] == sha256 {
                    loading.insert(path)
                } else {
                    load.append(path)
                }
            }
            // Outcomes of files that are gone are of no use.
            state.finished = state.finished.filter { scan[$0.key] != nil }
            return (known, loading, load)
        }
    }

    /// Takes over `pending`, started for content `scan` saw; false (and it is cancelled) once stopped.
    @discardableResult
    func track(_ pending: PendingLoads, scan: [String: Result<String, ReloadFailure>]) -> Bool {
        let accepted = state.withLock { state in
            guard !state.stopped else { return false }
            for path in pending.files {
                if case .success(let sha256)? = scan[path] { state.loading[path] = sha256 }
            }
            state.running[ObjectIdentifier(pending)] = pending
            return true
        }
        if accepted { continuation.yield(pending) } else { pending.cancel() }
        return accepted
    }

    /// Records what `pending` loaded (`reports`, in the order of its files; empty when it never ran).
    func finish(_ pending: PendingLoads, reports: [PackageReport]) {
        state.withLock { state in
            state.running.removeValue(forKey: ObjectIdentifier(pending))
            for (index, path) in pending.files.enumerated() {
                let started = state.loading.removeValue(forKey: path)
                guard index < reports.count, !state.stopped else { continue }
                let report = reports[index]
                state.finished[path] = (
                    report.sha256 ?? started,
                    report.package.map { .success($0) }
                        ?? .failure(ReloadFailure(report.error?.description ?? "rejected"))
                )
            }
        }
    }

    /// The files loading in the background.
    var loadingFiles: [String] { state.withLock { $0.loading.keys.sorted() } }

    /// Stops taking pending loads and kills the running ones (the daemon drains).
    func stop() {
        let running = state.withLock { state in
            state.stopped = true
            return Array(state.running.values)
        }
        continuation.finish()
        for pending in running { pending.cancel() }
    }
}

extension Daemon {
    /// Waits for the package files that reloads left loading (slow loads), and reloads as each set finishes so they
    /// are served (or reported failed). Returns once the daemon drains. ``DaemonService`` runs it beside the
    /// daemon; an embedder that runs the daemon itself and lets its probe settle (``PackageProbe/slowAfter``)
    /// runs it too, or pending files stay pending.
    public func runPendingLoads() async {
        await withDiscardingTaskGroup { group in
            for await pending in backgroundLoads.requests {
                group.addTask { [self] in
                    let reports: [PackageReport]
                    do {
                        reports = try await BlockingCall.run { pending.wait() }
                    } catch {
                        pending.cancel()
                        reports = []
                    }
                    backgroundLoads.finish(pending, reports: reports)
                    if !reports.isEmpty { _ = await reload() }
                }
            }
        }
    }

    /// Files of the drop directory still loading after the last reload.
    public var loadingFiles: [String] { backgroundLoads.loadingFiles }
}
