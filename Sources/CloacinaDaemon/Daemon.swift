public import Cloacina
internal import CloacinaSDK
public import Logging
internal import Synchronization

/// The host process's core: it serves the packages of a drop directory to the executions of its tenants, swaps
/// package generations on reload, and drains on shutdown.
///
/// Every tenant's runner shares one ``WorkflowRegistry``, so a reload switches all tenants at once, while each
/// execution stays pinned to the package version it started with. The daemon has no HTTP and no signal handling of
/// its own: ``DaemonService`` runs it in a `ServiceGroup`, and the HTTP target calls its methods.
public final class Daemon: Sendable {
    /// Which tenants the daemon serves.
    public enum TenantSelection: Sendable, Hashable {
        /// Exactly these, created on start when missing.
        case only([String])
        /// Every tenant that exists, looked up when first used; nothing is created.
        case all
    }

    public struct Configuration: Sendable {
        /// The drop directory of `*.so` packages.
        public var workflowsDirectory: String
        public var storage: TenantManager.Storage
        public var tenants: TenantSelection
        /// What each tenant's runner is configured with; its embedded packages are served beside the directory's.
        public var runner: DefaultRunner.Configuration
        /// How long shutdown waits for running task attempts.
        public var drainTimeout: Duration
        /// The most executions this host holds unfinished (running or waiting), across tenants; a submission
        /// beyond it is refused as `unavailable` (HTTP 503 with `Retry-After`).
        public var maxPendingExecutions: Int
        /// How long a tenant whose store failed to open stays out of service before a request tries it again (a
        /// reload tries at once).
        public var unavailableRetryInterval: Duration
        /// Loads changed packages in a child process first, so one that crashes while loading is reported instead
        /// of taking the daemon down; nil loads in this process only.
        public var probe: PackageProbe?
        /// When a package version whose tasks keep killing worker processes is quarantined (with process
        /// isolation): new executions of its workflows are refused until a new version is served or the operator
        /// ends the quarantine (see ``Daemon/unquarantine(_:)``).
        public var quarantine: QuarantineRule
        /// Where quarantines are kept across restarts (``QuarantineFiles``); nil keeps them in memory only.
        public var quarantineDirectory: String?
        public var logger: Logger

        public init(workflowsDirectory: String, storage: TenantManager.Storage, tenants: TenantSelection = .all) {
            self.workflowsDirectory = workflowsDirectory
            self.storage = storage
            self.tenants = tenants
            self.runner = DefaultRunner.Configuration(databaseURL: "")
            self.drainTimeout = .seconds(30)
            self.maxPendingExecutions = 1000
            self.unavailableRetryInterval = .seconds(30)
            self.probe = nil
            self.quarantine = QuarantineRule()
            self.quarantineDirectory = nil
            self.logger = Logger(label: "cloacina.daemon")
        }
    }

    /// Where the daemon is in its life.
    public enum Phase: String, Sendable {
        case starting, serving, draining, stopped
    }

    public let configuration: Configuration
    /// The workflows every tenant can start.
    public let registry = WorkflowRegistry()
    public let tenants: TenantManager
    public let metrics: DaemonMetrics
    let loader: PackageLoader
    /// Package files still loading after the reload that started them.
    let backgroundLoads = BackgroundLoads()
    var logger: Logger { configuration.logger }
    let state = Mutex(State())
    /// How many versions are quarantined, for the lock-free check on every submission.
    let quarantinedCount = Atomic<Int>(0)

    struct State {
        var phase = Phase.starting
        var generation = PackageGeneration<LoadedPackage>()
        var scheduler = CoalescingScheduler()
        var waiters: [UInt64: CheckedContinuation<ReloadTurn, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var lastReload: ReloadReport?
        /// Packages compiled into the host, served beside the directory's.
        var hostPackages: [LoadedPackage] = []
        /// The tenants being served, with their runners.
        var served: [String: ServedTenant] = [:]
        /// Tenants taken out of service because their store failed to open.
        var unavailable: [String: UnavailableTenant] = [:]
        /// Submissions admitted and not yet recorded (counted beside the runners' executions).
        var admitting = 0
        var quarantine = Quarantine(rule: .off)
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
        let metrics = DaemonMetrics()
        self.metrics = metrics
        self.loader = PackageLoader(
            cacheDirectory: configuration.runner.packageCacheDirectory,
            deferSync: true,
            logger: configuration.logger
        )
        var template = configuration.runner
        template.registry = registry
        // The host fires its tenants' schedules, under its limit of unfinished executions.
        template.runsSchedules = true
        let admission = HostAdmission()
        template.scheduleAdmission = { admission.admits($0) }
        template.embeddedPackages = []
        template.packages = []
        self.tenants = TenantManager(storage: configuration.storage, template: template) { tenant, event in
            metrics.record(event, tenant: tenant)
        }
        let limit = configuration.maxPendingExecutions
        admission.answer { [weak self] count in
            guard let self else { return count }
            return state.withLock { state in min(count, state.room(limit: limit)) }
        }
        let onDisk = configuration.quarantineDirectory.map { QuarantineFiles(directory: $0).load() }
        state.withLock { $0.quarantine = Quarantine(rule: configuration.quarantine, entries: onDisk?.entries ?? []) }
        for message in onDisk?.ignored ?? [] { logger.warning("quarantine file", metadata: ["error": "\(message)"]) }
        quarantineChanged()
        (configuration.runner.invoker as? ProcessTaskInvoker)?.crashes.observe { [weak self] crash in
            metrics.workerCrashed(crash.key)
            self?.recordCrash(crash)
        }
    }

    public var phase: Phase { state.withLock { $0.phase } }

    /// Loads the host's packages and the drop directory, opens the selected tenants (resuming their unfinished
    /// executions), and starts serving. Throws when a host package cannot be loaded, or when none of a fixed list
    /// of tenants opens; a tenant whose store fails to open is otherwise taken out of service alone (see
    /// ``tenantsJSON()``). Tenants with their own roles are opened when they have credentials (see
    /// `Daemon+Credentials.swift`).
    public func start() async throws(CloacinaError) {
        var host: [LoadedPackage] = []
        for package in configuration.runner.embeddedPackages {
            let report = loader.load(embedded: package)
            guard let loaded = report.package else {
                throw CloacinaError(
                    .invalidInput,
                    "package \(package.name): \(report.error?.description ?? "rejected")"
                )
            }
            host.append(loaded)
        }
        state.withLock { $0.hostPackages = host }
        let report = await reload()
        if !report.failed.isEmpty {
            logger.warning("some packages failed to load", metadata: ["failed": "\(report.failed.count)"])
        }
        if let credentials {
            try await openTenantsWithCredentials(credentials)
        } else if case .only(let names) = configuration.tenants {
            try await openAll(names)
        }
        state.withLock { state in
            if state.phase == .starting { state.phase = .serving }
        }
        logger.notice(
            "serving",
            metadata: [
                "packages": "\(registry.currentPackages.count)", "directory": "\(configuration.workflowsDirectory)",
            ]
        )
    }

    /// Stops intake (new executions are refused as shutting down), waits up to the drain timeout for running
    /// attempts, and closes every tenant; unfinished executions stay in the store for the next start to resume.
    public func drain(timeout: Duration? = nil) async {
        let proceed = state.withLock { state in
            guard state.phase != .draining && state.phase != .stopped else { return false }
            state.phase = .draining
            return true
        }
        guard proceed else { return }
        backgroundLoads.stop()
        logger.notice("draining", metadata: ["timeout": "\(timeout ?? configuration.drainTimeout)"])
        await tenants.shutdown(timeout: timeout ?? configuration.drainTimeout)
        state.withLock { $0.phase = .stopped }
        logger.notice("stopped")
    }
}

extension LoadedPackage: GenerationPackage {
    public var packageName: String { info.name }
    public var packageVersion: String { info.version }
    public var contentSHA256: String { sha256 ?? "" }
    public var workflowNames: [String] { workflows.map(\.name) }
}
