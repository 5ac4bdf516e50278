public import CloacinaSDK
public import CloacinaStorage
public import Logging

#if canImport(Glibc)
internal import Glibc
#endif

extension DefaultRunner {
    /// Everything a runner is set up with. Start from ``init(databaseURL:)`` and change what you need, then build the
    /// runner with ``Builder/init(configuration:)``; or set it step by step with the ``Builder``.
    public struct Configuration: Sendable {
        /// Where executions are stored: a URL whose scheme picks the store in ``stores`` (`sqlite:///path/to/file.db`,
        /// `postgresql://user@host/database`; see ``StoreRegistry/builtin``).
        public var databaseURL: String
        /// The stores ``databaseURL`` may name, by scheme: ``StoreRegistry/builtin`` unless set (a test's own store,
        /// say).
        public var stores: StoreRegistry
        /// The PostgreSQL schema holding this tenant's tables; nil for SQLite (a tenant is a file).
        public var schema: String?
        /// Whether the store creates its PostgreSQL schema when it is missing (true by default). False for a role that
        /// may only use its own schema (``TenantManager``'s tenants with their own roles): a missing schema is then an
        /// error rather than a `CREATE SCHEMA` the role may not run.
        public var createSchema: Bool
        /// The tenant name reported in results and logs; defaults to the schema, else "default".
        public var tenant: String?
        /// How many task attempts run at once, across all executions (with shared ``resources``: across the
        /// host's tenants).
        public var maxConcurrentTasks: Int
        /// This runner's tenant's share of the task threads: its weight against the other tenants on shared
        /// ``resources`` and its own limit on running attempts (``TenantShare``; weight 1 and no limit by default).
        /// Runners of one tenant name on shared resources count as one tenant.
        public var tenantShare: TenantShare
        /// Shares of particular tenants, by name, replacing ``tenantShare`` for them: ``TenantManager`` applies them
        /// to the runners it opens (a host's per-tenant limits and weights).
        public var tenantShares: [String: TenantShare]
        /// The time limit of an attempt when its task sets none.
        public var taskTimeout: Duration
        /// The most connections the store keeps to its database, each used from a queue of its own (PostgreSQL;
        /// a SQLite store always has one writer and one reader).
        public var dbPoolSize: Int
        /// Where package images are cached by content, so executions pinned to a version can be resumed.
        public var packageCacheDirectory: String
        /// Packages compiled into this program, registered before unfinished executions are resumed.
        public var embeddedPackages: [WorkflowPackage]
        /// Package files already loaded (by ``PackageLoader``), registered before unfinished executions are resumed.
        /// Loaded packages can be shared by any number of runners.
        public var packages: [LoadedPackage]
        /// The registry of startable workflows to use; nil for one of the runner's own. A host serving many tenants
        /// shares one, so a reload switches every tenant at once.
        public var registry: WorkflowRegistry?
        /// Task threads and timers shared with other runners of the host; nil for the runner's own (sized by
        /// ``maxConcurrentTasks``). With shared resources, their limit applies to the whole host.
        public var resources: RunnerResources?
        /// Whether to resume unfinished executions (left by a crashed or stopped runner) on start.
        public var resumeUnfinished: Bool
        /// How long a claim on an execution lasts without renewal; renewed every third of it while running.
        public var leaseDuration: Duration
        /// How often the runner looks for executions no live runner holds (another process's lease ran out, or
        /// nobody has taken them yet) and takes as many as it has room for; nil to look only on start. With several
        /// hosts on one database, every host sets it, so a dead host's executions move on within the lease and
        /// this interval.
        public var takeoverInterval: Duration?
        /// Whether the runner fires its tenant's cron schedules (a host does; a one-off command does not). Off by
        /// default: an embedding program turns it on for the runner that serves the tenant.
        public var runsSchedules: Bool
        /// What the runner writes about its host into the store, for `cloacina hosts` (a host process sets it);
        /// nil writes nothing.
        public var announcement: HostAnnouncement?
        /// How long ``DefaultRunner/shutdown(timeout:)`` waits for running attempts by default.
        public var shutdownTimeout: Duration
        /// The largest task output accepted, in bytes.
        public var maximumOutputBytes: Int
        /// The most log lines (`host->log`, `ctx.log`) stored per attempt; later ones are counted as dropped, and
        /// readers say how many (1,000 unless set).
        public var maximumLogLines: Int
        /// The longest log line stored, in bytes of UTF-8; a longer one is cut, with a marker saying so (8 KiB
        /// unless set).
        public var maximumLogLineBytes: Int
        /// How task attempts are run.
        public var invoker: any TaskInvoker
        public var logger: Logger
        /// Called with every event the runner records (from its own threads; keep it quick).
        public var observer: (@Sendable (ExecutionEvent) -> Void)?
        /// Asked before a schedule starts executions, with how many: answers how many of them may start now. The
        /// oldest that many start; the others stay due and are looked at again each second. A host uses it to keep
        /// scheduled executions under its limit of unfinished executions; nil admits every fire.
        public var scheduleAdmission: (@Sendable (Int) -> Int)?

        /// The defaults for a database: concurrency of twice the processors (at least 4), a 300-second task time
        /// limit, 4 database connections, packages cached under `$XDG_CACHE_HOME/cloacina/packages`.
        public init(databaseURL: String) {
            self.databaseURL = databaseURL
            self.stores = .builtin
            self.schema = nil
            self.createSchema = true
            self.tenant = nil
            self.maxConcurrentTasks = max(4, 2 * Self.processorCount)
            self.tenantShare = TenantShare()
            self.tenantShares = [:]
            self.taskTimeout = .seconds(300)
            self.dbPoolSize = 4
            self.packageCacheDirectory = Self.defaultPackageCache
            self.embeddedPackages = []
            self.packages = []
            self.registry = nil
            self.resources = nil
            self.resumeUnfinished = true
            self.leaseDuration = .seconds(15)
            self.takeoverInterval = nil
            self.runsSchedules = false
            self.announcement = nil
            self.shutdownTimeout = .seconds(30)
            self.maximumOutputBytes = 64 << 20
            self.maximumLogLines = 1000
            self.maximumLogLineBytes = 8 << 10
            self.invoker = InProcessTaskInvoker()
            self.logger = Logger(label: "cloacina.runner")
            self.observer = nil
            self.scheduleAdmission = nil
        }

        /// The tenant name results report.
        public var tenantName: String { tenant ?? schema ?? "default" }

        /// Throws a configuration error naming the first setting out of range.
        public func validate() throws(CloacinaError) {
            guard maxConcurrentTasks >= 1 else {
                throw CloacinaError(
                    .configuration,
                    "max concurrent tasks must be at least 1, got \(maxConcurrentTasks)"
                )
            }
            try tenantShare.validate()
            for (tenant, share) in tenantShares.sorted(by: { $0.key < $1.key }) { try share.validate(tenant: tenant) }
            guard taskTimeout > .zero else { throw CloacinaError(.configuration, "the task timeout must be positive") }
            guard dbPoolSize >= 1 else {
                throw CloacinaError(.configuration, "the database pool size must be at least 1, got \(dbPoolSize)")
            }
            guard leaseDuration >= .seconds(1) else {
                throw CloacinaError(.configuration, "the lease duration must be at least 1 second")
            }
            if let takeoverInterval, takeoverInterval < .milliseconds(100) {
                throw CloacinaError(.configuration, "the takeover interval must be at least 100 milliseconds")
            }
            guard maximumOutputBytes > 0 else {
                throw CloacinaError(.configuration, "the maximum output size must be positive")
            }
            guard maximumLogLines >= 0 else {
                throw CloacinaError(.configuration, "the maximum log lines per attempt must not be negative")
            }
            guard maximumLogLineBytes >= 64 else {
                throw CloacinaError(
                    .configuration,
                    "the maximum log line size must be at least 64 bytes, got \(maximumLogLineBytes)"
                )
            }
        }

        static var processorCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

        static var defaultPackageCache: String {
            if let cache = getenv("XDG_CACHE_HOME").map({ String(cString: $0) }), !cache.isEmpty {
                return "\(cache)/cloacina/packages"
            }
            if let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty {
                return "\(home)/.cache/cloacina/packages"
            }
            return "/tmp/cloacina-\(getuid())/packages"
        }
    }

    /// Builds a runner step by step, as in the seed documents:
    ///
    /// ```swift
    /// let runner = try await DefaultRunner.builder()
    ///     .databaseURL("sqlite:///var/lib/cloacina/acme.db")
    ///     .maxConcurrentTasks(10)
    ///     .taskTimeout(.seconds(300))
    ///     .build()
    /// ```
    ///
    /// The builder is the one way to build a runner; ``DefaultRunner/init(databaseURL:)`` and
    /// ``DefaultRunner/withSchema(_:_:)`` are shorthands for it.
    public struct Builder: Sendable {
        public var configuration: Configuration

        /// A builder with the default configuration.
        public init() {
            self.init(configuration: Configuration(databaseURL: ""))
        }

        /// A builder starting from `configuration` (a host's template, say).
        public init(configuration: Configuration) {
            self.configuration = configuration
        }

        public func databaseURL(_ url: String) -> Builder { with { $0.databaseURL = url } }
        public func stores(_ stores: StoreRegistry) -> Builder { with { $0.stores = stores } }
        public func schema(_ schema: String) -> Builder { with { $0.schema = schema } }
        public func tenant(_ tenant: String) -> Builder { with { $0.tenant = tenant } }
        public func maxConcurrentTasks(_ count: Int) -> Builder { with { $0.maxConcurrentTasks = count } }
        public func tenantShare(_ share: TenantShare) -> Builder { with { $0.tenantShare = share } }
        public func tenantMaxConcurrentTasks(_ count: Int?) -> Builder {
            with { $0.tenantShare.maxConcurrentTasks = count }
        }
        public func taskTimeout(_ timeout: Duration) -> Builder { with { $0.taskTimeout = timeout } }
        public func dbPoolSize(_ size: Int) -> Builder { with { $0.dbPoolSize = size } }
        public func packageCacheDirectory(_ path: String) -> Builder { with { $0.packageCacheDirectory = path } }
        public func register(_ package: WorkflowPackage) -> Builder { with { $0.embeddedPackages.append(package) } }
        public func register(package: LoadedPackage) -> Builder { with { $0.packages.append(package) } }
        public func resumeUnfinished(_ resume: Bool) -> Builder { with { $0.resumeUnfinished = resume } }
        public func logger(_ logger: Logger) -> Builder { with { $0.logger = logger } }

        /// Opens the store and starts the runner.
        public func build() async throws(CloacinaError) -> DefaultRunner {
            try await DefaultRunner(configuration: configuration)
        }

        private func with(_ change: (inout Configuration) -> Void) -> Builder {
            var copy = self
            change(&copy.configuration)
            return copy
        }
    }

    /// A builder with the default configuration.
    public static func builder() -> Builder { Builder() }
}
