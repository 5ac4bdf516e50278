public import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// Runs the tasks of package files in worker processes, so a task that crashes, exits or hangs costs one attempt
/// and one worker, never the host.
///
/// A worker (``TaskWorker``, started with ``Options/command``) opens the exact image an execution is pinned to (the
/// content-addressed copy, checked by SHA-256) and runs one call at a time. Workers start when a call needs one, are
/// kept warm and reused for later calls of the same package version (and, with ``Options/workerPerTenant``, the
/// same tenant only), and are stopped after ``Options/idleTimeout`` without a call. So a version has at most as many
/// workers as it has calls running at once: at most the runner's task concurrency, plus, for up to
/// ``Options/killGrace``, workers of cancelled calls being stopped.
///
/// How an attempt ends when its worker does (see ``WorkerCrashes``): a worker that dies while it runs a call (a
/// signal, an exit, a resource limit of ``Options/limits``, a `kill` from outside) or breaks the protocol fails the
/// attempt as *retryable* with the cause ("worker killed by SIGSEGV (Segmentation fault)"), so the task's retry
/// policy decides whether it runs again, on a fresh worker; every other call goes on. When a call is cancelled (its
/// timeout passed, its execution was cancelled) the worker is told at once (`host->is_cancelled`), and killed if
/// the call has not returned ``Options/killGrace`` later; the attempt fails. Packages compiled into the program (no
/// image file) and those of ``Options/inProcessPackages`` run in this process, through an ``InProcessTaskInvoker``.
public final class ProcessTaskInvoker: TaskInvoker {
    /// How workers are started, limited, reused and stopped.
    public struct Options: Sendable {
        /// The command that starts a worker, which must end up calling
        /// ``TaskWorker/serve(protocolDescriptor:controlDescriptor:)``: by default this program with the argument
        /// `worker`, which is `cloacina`'s hidden worker command. Another program either names `cloacina worker`
        /// here or calls `TaskWorker.serve()` itself when started with `worker`.
        public var command: [String]
        /// The resource limits of each worker.
        public var limits: WorkerLimits
        /// How long a cancelled call (past its timeout, say) may go on before its worker is killed.
        public var killGrace: Duration
        /// How long a worker may wait for a call before it is stopped.
        public var idleTimeout: Duration
        /// Whether each tenant gets workers of its own (a worker then never runs two tenants' calls).
        public var workerPerTenant: Bool
        /// Packages (by name) whose tasks run in this process all the same: trusted ones, for speed. Their files are
        /// opened here (``TaskInvoker/runsInThisProcess(package:)``), so a crash in them takes the host down.
        public var inProcessPackages: Set<String>
        /// How long a worker may take to load its package.
        public var loadTimeout: Duration
        /// The tasks' own log lines and their workers' output, with tenant and task.
        public var taskLogger: Logger
        /// Workers starting, stopping and crashing.
        public var logger: Logger

        public init(command: [String] = ["/proc/self/exe", "worker"]) {
            self.command = command
            self.limits = .standard
            self.killGrace = .seconds(5)
            self.idleTimeout = .seconds(60)
            self.workerPerTenant = false
            self.inProcessPackages = []
            self.loadTimeout = .seconds(60)
            self.taskLogger = Logger(label: "cloacina.task")
            self.logger = Logger(label: "cloacina.worker")
        }
    }

    public let options: Options
    /// The workers that died unasked, counted.
    public let crashes = WorkerCrashes()
    private let inProcess: InProcessTaskInvoker
    private let state = Mutex(State())
    private let reaperWake: (read: Int32, write: Int32)?

    /// Which workers may serve a call: those of its package version (and tenant, with one worker per tenant).
    private struct Key: Hashable {
        var sha256: String
        var tenant: String?
    }

    private struct State {
        var idle: [Key: [WorkerProcess]] = [:]
        var reaping = false
        var stopped = false
    }

    public init(options: Options = Options()) {
        self.options = options
        self.inProcess = InProcessTaskInvoker(logger: options.taskLogger)
        self.reaperWake = try? Descriptors.pipe()
        if let reaperWake { Descriptors.setNonBlocking(reaperWake.write) }
    }

    deinit {
        shutdown()
        if let reaperWake { for fd in [reaperWake.read, reaperWake.write] { close(fd) } }
    }

    public func invoke(_ request: TaskRequest, in package: LoadedPackage, cancellation: TaskCancellation) -> TaskResult
    {
        guard let imagePath = package.imagePath, let sha256 = package.sha256,
            !options.inProcessPackages.contains(package.info.name)
        else {
            return inProcess.invoke(request, in: package, cancellation: cancellation)
        }
        let key = Key(sha256: sha256, tenant: options.workerPerTenant ? request.tenant : nil)
        let taskLogger = request.logger(from: options.taskLogger)
        let worker: WorkerProcess
        switch checkout(key, package: package) {
        case .some(let idle):
            worker = idle
        case nil:
            guard !state.withLock({ $0.stopped }) else { return .retryable("the worker processes are shut down") }
            let launch = WorkerProcess.Launch(
                command: options.command,
                imagePath: imagePath,
                sha256: sha256,
                limits: options.limits,
                loadTimeout: options.loadTimeout,
                grace: options.killGrace
            )
            switch WorkerProcess.start(launch, cancellation: cancellation, logger: taskLogger) {
            case .success(let started):
                worker = started
                options.logger.debug("worker started", metadata: metadata(package, request, pid: started.pid))
            case .failure(.spawn(let reason)):
                return .retryable("cannot start a worker process: \(reason)")
            case .failure(.load(let reason)):
                return .failed("the worker process cannot load package \(Self.describe(package)): \(reason)")
            case .failure(.ended(let ending)):
                ended(ending, package: package, request: request, pid: nil)
                return .retryable("while loading package \(Self.describe(package)): \(ending.cause)")
            }
        }
        switch worker.call(request, cancellation: cancellation, grace: options.killGrace, logger: taskLogger) {
        case .success(let result):
            checkin(worker, key)
            return result
        case .failure(let ending):
            ended(ending, package: package, request: request, pid: worker.pid)
            return ending.isCrash ? .retryable(ending.cause) : .failed(ending.cause)
        }
    }

    /// Package files are never opened in this process: they are loaded by a probe running this invoker's worker
    /// command (the same image as the workers) and registered from its report.
    public func loadingProbe(cacheDirectory: String) -> PackageProbe? {
        PackageProbe(command: options.command, cacheDirectory: cacheDirectory, timeout: options.loadTimeout)
    }

    public func runsInThisProcess(package name: String) -> Bool {
        options.inProcessPackages.contains(name)
    }

    /// Stops every idle worker, and each busy one when its call returns; calls from now on fail (retryably). Also
    /// done on `deinit`.
    public func shutdown() {
        let idle = state.withLock { state in
            state.stopped = true
            defer { state.idle.removeAll() }
            return state.idle.values.flatMap { $0 }
        }
        for worker in idle { worker.stop() }
        wakeReaper()
    }

    /// Stops the idle workers of package version `sha256` (one no longer served, say); busy ones go on.
    public func stopWorkers(sha256: String) {
        let idle = state.withLock { state in
            let keys = state.idle.keys.filter { $0.sha256 == sha256 }
            return keys.flatMap { state.idle.removeValue(forKey: $0) ?? [] }
        }
        for worker in idle { worker.stop() }
    }

    /// The number of idle workers, by package version.
    public var idleWorkers: [String: Int] {
        state.withLock { state in
            state.idle.reduce(into: [:]) { counts, entry in counts[entry.key.sha256, default: 0] += entry.value.count }
        }
    }

    /// Stops the workers idle for at least ``Options/idleTimeout`` at `now`; returns how many. The invoker's reaper
    /// thread calls it when a worker's idle time runs out.
    @discardableResult
    public func reapIdleWorkers(now: ContinuousClock.Instant = .now) -> Int {
        let expired: [WorkerProcess] = state.withLock { state in
            var expired: [WorkerProcess] = []
            for (key, workers) in state.idle {
                let (old, young) = (
                    workers.filter { now - $0.idleSince >= options.idleTimeout },
                    workers.filter { now - $0.idleSince < options.idleTimeout }
                )
                expired += old
                state.idle[key] = young.isEmpty ? nil : young
            }
            return expired
        }
        for worker in expired { worker.stop() }
        return expired.count
    }

    // MARK: The pool

    /// An idle worker for `key` that still runs (the most recently used, whose caches are warmest), if any. One
    /// found dead (killed while idle, say) is collected and counted.
    private func checkout(_ key: Key, package: LoadedPackage) -> WorkerProcess? {
        while true {
            let found: WorkerProcess? = state.withLock { state in
                guard var workers = state.idle[key], let worker = workers.popLast() else { return nil }
                state.idle[key] = workers.isEmpty ? nil : workers
                return worker
            }
            guard let worker = found else { return nil }
            if worker.isAlive { return worker }
            if let ending = worker.collectEnding() {
                ended(ending, package: package, request: nil, pid: worker.pid)
            }
        }
    }

    private func checkin(_ worker: WorkerProcess, _ key: Key) {
        worker.idleSince = .now
        let (kept, startReaper) = state.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, false) }
            state.idle[key, default: []].append(worker)
            defer { state.reaping = true }
            return (true, !state.reaping)
        }
        guard kept else { return worker.stop() }
        if startReaper {
            startThread(name: "cloacina-worker-reaper") { [weak self] in self?.reap() }
        }
    }

    /// The reaper thread: sleeps until the oldest idle worker's time runs out, stops it, and ends when no worker
    /// is idle (the next check-in starts it again).
    private func reap() {
        while true {
            let oldest: ContinuousClock.Instant? = state.withLock { state in
                let oldest = state.idle.values.joined().map(\.idleSince).min()
                if oldest == nil || state.stopped { state.reaping = false }
                return state.stopped ? nil : oldest
            }
            guard let oldest else { return }
            let due = oldest + options.idleTimeout
            let wait = due - .now
            if wait > .zero {
                guard let reaperWake else { return }
                var poller = pollfd(fd: reaperWake.read, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, Int32(clamping: wait.inMilliseconds + 1)) > 0 {
                    var drained = [UInt8](repeating: 0, count: 64)
                    _ = read(reaperWake.read, &drained, drained.count)
                }
            }
            reapIdleWorkers()
        }
    }

    private func wakeReaper() {
        guard let reaperWake else { return }
        var byte: UInt8 = 1
        _ = write(reaperWake.write, &byte, 1)
    }

    // MARK: Reporting

    /// Records how a worker ended: a crash is counted and logged.
    private func ended(_ ending: WorkerProcess.Ending, package: LoadedPackage, request: TaskRequest?, pid: pid_t?) {
        var details = metadata(package, request, pid: pid)
        details["cause"] = "\(ending.cause)"
        guard ending.isCrash else {
            options.logger.warning("worker killed", metadata: details)
            return
        }
        options.logger.error("worker crashed", metadata: details)
        crashes.record(
            WorkerCrashes.Crash(
                key: .init(package: package.info.name, version: package.info.version, signal: ending.signalLabel),
                sha256: package.sha256 ?? "",
                cause: ending.cause,
                tenant: request?.tenant,
                task: request?.task
            )
        )
    }

    private func metadata(_ package: LoadedPackage, _ request: TaskRequest?, pid: pid_t?) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "package": "\(package.info.name)", "version": "\(package.info.version)",
            "sha256": "\(package.sha256 ?? "")",
        ]
        if let pid { metadata["pid"] = "\(pid)" }
        if let request {
            metadata["tenant"] = "\(request.tenant)"
            metadata["task"] = "\(request.workflow).\(request.task)"
            metadata["execution"] = "\(request.executionID)"
            metadata["attempt"] = "\(request.attempt)"
        }
        return metadata
    }

    private static func describe(_ package: LoadedPackage) -> String {
        "\(package.info.name) \(package.info.version)"
    }
}

extension TaskRequest {
    /// `base` with this call's tenant, workflow, task, execution and attempt as metadata: where a task's log lines
    /// go.
    func logger(from base: Logger) -> Logger {
        var logger = base
        // Set at once: a handler may re-render its whole metadata on every change.
        logger.handler.metadata.merge(logMetadata) { $1 }
        return logger
    }

    /// The call's tenant, workflow, task, execution and attempt, for log lines.
    var logMetadata: Logger.Metadata {
        [
            "tenant": "\(tenant)", "workflow": "\(workflow)", "task": "\(task)", "execution": "\(executionID)",
            "attempt": "\(attempt)",
        ]
    }
}
