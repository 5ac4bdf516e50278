public import CloacinaSDK
public import CloacinaStorage
internal import Logging
internal import Synchronization

/// Runners for the tenants of one deployment: each tenant's runner is created on first use and reused after.
///
/// Concurrency-safe: callers asking for the same tenant at once share one creation; a creation that fails is
/// forgotten, so the next call tries again. Every runner is made from one template configuration (concurrency,
/// time limits, packages), with the tenant's own storage: a schema per tenant in one PostgreSQL database (reached
/// through one URL, or each as the tenant's own role), or a SQLite file per tenant in one directory, opened by the
/// backend ``DefaultRunner/Configuration/stores`` has for them. It does not create tenants' roles; that is
/// `DatabaseAdmin` (in `CloacinaPostgresAdmin`).
public final class TenantManager: Sendable {
    /// Where each tenant's state lives.
    public enum Storage: Sendable, Hashable {
        /// A schema per tenant, named as the tenant, in the PostgreSQL database at `url`.
        case postgresSchemas(url: String)
        /// A SQLite file per tenant in `directory` (named by the SQLite backend: `<tenant>.db`).
        case sqliteFiles(directory: String)
        /// A schema per tenant, named as the tenant, that each tenant's runner reaches as the tenant's own login role:
        /// with the connection string `credentials` has for it, read each time its runner opens. Only tenants with
        /// credentials exist here, and their schemas are never created (their roles may not): `DatabaseAdmin`
        /// creates tenants, and no admin URL is needed to serve them.
        case postgresTenantRoles(credentials: TenantCredentialSource)
    }

    public let storage: Storage
    /// What every tenant's runner is configured with, but for its database and tenant name. Its resources (threads)
    /// are shared by every tenant: the template's, or ones the manager makes and stops.
    public let template: DefaultRunner.Configuration
    private let ownedResources: RunnerResources?
    /// Told every event of every tenant's executions (from runner threads; keep it quick).
    private let observer: (@Sendable (_ tenant: String, _ event: ExecutionEvent) -> Void)?
    private let state = Mutex(State())

    private struct State {
        var runners: [String: Task<DefaultRunner, any Error>] = [:]
        var closed = false
    }

    /// A manager for `storage`; runners copy `template` (its database URL and schema are replaced per tenant).
    /// `observer`, if given, hears every tenant's execution events, with the tenant.
    public init(
        storage: Storage,
        template: DefaultRunner.Configuration = DefaultRunner.Configuration(databaseURL: ""),
        observer: (@Sendable (_ tenant: String, _ event: ExecutionEvent) -> Void)? = nil
    ) {
        self.storage = storage
        var template = template
        // One registry for every tenant: workflows are planned once, and a reload switches all tenants at once.
        if template.registry == nil {
            template.registry = WorkflowRegistry()
        }
        if !template.embeddedPackages.isEmpty {
            // Loaded once, so every tenant registers the same package; one that fails stays embedded, and opening
            // a tenant reports why.
            let loader = PackageLoader(cacheDirectory: template.packageCacheDirectory, logger: template.logger)
            var failed: [WorkflowPackage] = []
            for package in template.embeddedPackages {
                if let loaded = loader.load(embedded: package).package {
                    template.packages.append(loaded)
                } else {
                    failed.append(package)
                }
            }
            template.embeddedPackages = failed
        }
        if template.resources == nil {
            let resources = RunnerResources(maxConcurrentTasks: template.maxConcurrentTasks)
            template.resources = resources
            ownedResources = resources
        } else {
            ownedResources = nil
        }
        self.template = template
        self.observer = observer
    }

    /// Runs the timers and background jobs of every tenant's runner (see ``RunnerResources/run()``) in the caller's
    /// task, until ``shutdown(timeout:)`` or cancellation: a host calls it in its own task group (as
    /// `cloacina serve` does) and shuts the manager down on its graceful shutdown. Until someone runs it, the
    /// manager's resources run themselves.
    public func run() async {
        await template.resources?.run()
    }

    /// A schema per tenant in the PostgreSQL database at `databaseURL` (as in the seed documents' examples), or a
    /// file per tenant beside a SQLite URL's file (see ``Storage/init(databaseURL:stores:)``).
    public convenience init(databaseURL: String) throws(CloacinaError) {
        self.init(storage: try Storage(databaseURL: databaseURL))
    }

    /// Like ``init(databaseURL:)``, with `packages` (compiled into this program) registered for every tenant
    /// before any tenant's runner opens, so executions a crash left behind resume on them.
    public convenience init(databaseURL: String, packages: [WorkflowPackage]) throws(CloacinaError) {
        var template = DefaultRunner.Configuration(databaseURL: "")
        template.embeddedPackages = packages
        self.init(storage: try Storage(databaseURL: databaseURL), template: template)
        if let failed = self.template.embeddedPackages.first {
            throw CloacinaError(.invalidInput, "package \(failed.name) does not load")
        }
    }

    /// Registers a package compiled into this program for every tenant, open or not; executions of open tenants
    /// that were waiting for it resume.
    public func register(_ package: WorkflowPackage) throws(CloacinaError) {
        let loader = PackageLoader(cacheDirectory: template.packageCacheDirectory, logger: template.logger)
        let report = loader.load(embedded: package)
        guard let loaded = report.package else {
            throw CloacinaError(.invalidInput, "package \(package.name): \(report.error?.description ?? "rejected")")
        }
        try template.registry?.register(loaded)
        let creations = state.withLock { Array($0.runners.values) }
        for creation in creations {
            template.resources?.timers.spawn { (try? await creation.value)?.resumeWaiting() }
        }
    }

    /// Throws `invalidInput` naming the problem when `tenant` cannot name a tenant of this storage.
    public func validate(_ tenant: String) throws(CloacinaError) {
        try Self.validate(tenant, for: storage, stores: template.stores)
    }

    /// The configuration of `tenant`'s runner: the template's, with the tenant's storage, and its share of the
    /// threads from ``DefaultRunner/Configuration/tenantShares`` when it has one there.
    public func configuration(for tenant: String) -> DefaultRunner.Configuration {
        var configuration = template
        configuration.tenant = tenant
        if let share = template.tenantShares[tenant] { configuration.tenantShare = share }
        configuration.logger[metadataKey: "tenant"] = "\(tenant)"
        if let observer {
            let inner = template.observer
            configuration.observer = { event in
                inner?(event)
                observer(tenant, event)
            }
        }
        if case .postgresTenantRoles = storage {
            // The tenant's own connection string is read when its runner opens (``runner(for:)``), off the
            // cooperative pool; its role may not create the schema.
            configuration.schema = tenant
            configuration.createSchema = false
        } else if let store = try? storage.store(ofTenant: tenant, stores: template.stores) {
            // Storage no backend serves keeps the template's URL; ``runner(for:)`` reports it when validating the
            // tenant.
            configuration.databaseURL = store.url
            configuration.schema = store.schema
        }
        return configuration
    }

    /// `tenant`'s runner, created (and its unfinished executions resumed) on first use. For tenants with their own
    /// roles, its connection string is read as it is created (so a changed one takes effect when the tenant is
    /// closed and opened again); one that is missing, refused or not PostgreSQL's fails the creation.
    public func runner(for tenant: String) async throws(CloacinaError) -> DefaultRunner {
        try validate(tenant)
        let creation = try state.withLock { state throws(CloacinaError) in
            guard !state.closed else { throw CloacinaError(.shuttingDown, "the tenant manager is shutting down") }
            if let existing = state.runners[tenant] { return existing }
            let base = configuration(for: tenant)
            let (storage, stores) = (storage, template.stores)
            let creation = Task {
                var configuration = base
                if case .postgresTenantRoles = storage {
                    let store = try await BlockingCall.run {
                        Result { () throws(CloacinaError) in try storage.store(ofTenant: tenant, stores: stores) }
                    }
                    configuration.databaseURL = try store.get().url
                }
                let runner = try await DefaultRunner(configuration: configuration)
                // Opening left statements, caches or connections behind; many tenants stay quiet after opening.
                if !runner.hasActiveExecutions { runner.releaseIdleResources() }
                return runner
            }
            state.runners[tenant] = creation
            return creation
        }
        do {
            return try await creation.value
        } catch {
            state.withLock { state in
                if state.runners[tenant] == creation { state.runners[tenant] = nil }
            }
            throw error as? CloacinaError ?? CloacinaError(.configuration, "\(error)")
        }
    }

    /// Runs `workflow` for `tenant` and waits for its result.
    public func executeForTenant(
        _ tenant: String,
        _ workflow: String,
        context: [String: JSONValue] = [:]
    ) async throws(CloacinaError) -> ExecutionResult {
        try await runner(for: tenant).execute(workflow, context: context)
    }

    /// Figures about `tenant`'s executions, computed by its database.
    public func tenantMetrics(_ tenant: String) async throws(CloacinaError) -> TenantMetrics {
        try await runner(for: tenant).statistics()
    }

    /// The tenants whose runners are open (or opening) here.
    public var openTenants: [String] { state.withLock { $0.runners.keys.sorted() } }

    /// Shuts `tenant`'s runner down (see ``DefaultRunner/shutdown(timeout:)``) and forgets it; the next use opens a
    /// new one. Does nothing when it is not open. `detached` is called once the runner is no longer handed out and
    /// before its shutdown begins (a host stops routing requests to it there).
    public func close(_ tenant: String, timeout: Duration? = nil, detached: () -> Void = {}) async {
        guard let creation = state.withLock({ $0.runners.removeValue(forKey: tenant) }) else { return }
        detached()
        await (try? creation.value)?.shutdown(timeout: timeout)
    }

    /// Takes no new tenants and shuts every runner down, at most `timeout` each, all at once.
    public func shutdown(timeout: Duration? = nil) async {
        let creations = state.withLock { state in
            state.closed = true
            defer { state.runners.removeAll() }
            return Array(state.runners.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for creation in creations {
                group.addTask { await (try? creation.value)?.shutdown(timeout: timeout) }
            }
        }
        ownedResources?.shutdown()
    }
}
