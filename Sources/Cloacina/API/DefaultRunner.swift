public import CloacinaSDK
internal import CloacinaStorage
internal import Logging
internal import Synchronization

/// Runs workflows for one tenant against one store: the engine's entry point, shaped like Cloacina's.
///
/// ```swift
/// let runner = try await DefaultRunner(databaseURL: "sqlite:///var/lib/cloacina/default.db")
/// try runner.register(myPackage)                       // a CloacinaSDK package compiled into this program
/// let result = try await runner.execute("nightly_report", context: ["date": "2026-11-23"])
/// print(result.status, result.finalContext ?? [:])
/// await runner.shutdown()
/// ```
///
/// Workflows come from package files (loaded by a ``PackagePipeline``, then ``register(package:)`` or
/// ``Configuration/packages``) or from packages compiled into the program (``register(_:)``); both go through the
/// same loader and the same scheduler. Each execution is
/// pinned to the package it started with. Task attempts run on the runner's own threads, up to
/// ``Configuration/maxConcurrentTasks`` at once; scheduling is event-driven (a finished task immediately starts its
/// ready dependents) and the store is written in batches, never polled. A runner that starts on a store with
/// unfinished executions resumes them. Call ``shutdown(timeout:)`` before dropping it.
public final class DefaultRunner: Sendable {
    public let configuration: Configuration
    /// The tenant this runner serves.
    public let tenant: String
    /// Loads package files and keeps their images in the configured package cache.
    public let packages: PackageLoader
    let runtime: RunnerRuntime
    /// The tenant's schedules as this runner last read them (``Configuration/runsSchedules``).
    let scheduleState = RunnerSchedules()
    /// The startable workflows: the configuration's shared registry, or the runner's own.
    public let registry: WorkflowRegistry
    /// When the runner started (its host's ``HostRecord/startedAt``).
    let startedAt = Timestamp.now()
    private let state = Mutex(RunnerState())

    private struct RunnerState {
        var active: [String: ExecutionDriver] = [:]
        var closed = false
        var heartbeat: UInt64?
        /// Set at the end of a shutdown: leases are renewed until then, through the drain.
        var heartbeatStopped = false
        var takeover: UInt64?
        /// Unfinished executions left unclaimed because their package is not known here.
        var waiting: Set<String> = []
        /// Whether a ``resumeUnfinished()`` runs; later callers wait here, in order.
        var resuming = false
        var resumeWaiters: [CheckedContinuation<Void, Never>] = []
        /// When an execution last started or ended here.
        var lastActive = ContinuousClock.now
        /// Takeover sweeps and checks for cancel requests: one at a time each, bursts of requests collapsed.
        var sweeps = CoalescingScheduler()
        var renewals = CoalescingScheduler()
        var scheduleLooks = CoalescingScheduler()
        /// When the last lease renewal that succeeded was sent, or the runner was last idle, or started: no lease
        /// held here was granted before it.
        var lastLeaseRenewal = Timestamp.now()
        /// Whether the last takeover sweep claimed as many as it had room for (more may wait).
        var backlog = false
        /// The store's signals from other hosts, while the runner is open.
        var signals: StoreObservation?
    }

    /// Background jobs that must not overlap themselves (``request(_:)``, ``finished(_:)``).
    enum CoalescedJob {
        case takeover, renewal, scheduleLook
    }

    /// Opens the store of `configuration`, registers its embedded packages, and resumes unfinished executions
    /// unless told not to. Reached through the ``Builder`` (``builder()``, ``Builder/init(configuration:)``), the one
    /// way to build a runner, or its shorthands ``init(databaseURL:)`` and ``withSchema(_:_:)``.
    init(configuration: Configuration) async throws(CloacinaError) {
        try configuration.validate()
        self.configuration = configuration
        self.tenant = configuration.tenantName
        self.registry = configuration.registry ?? WorkflowRegistry()
        self.packages = PackageLoader(cacheDirectory: configuration.packageCacheDirectory, logger: configuration.logger)
        let store = try Self.openStore(configuration)
        self.runtime = RunnerRuntime(
            tenant: configuration.tenantName,
            store: store,
            identity: RunnerIdentity(),
            resources: configuration.resources,
            maxConcurrentTasks: configuration.maxConcurrentTasks,
            tenantShare: configuration.tenantShare,
            invoker: configuration.invoker,
            defaultTimeout: configuration.taskTimeout,
            maximumOutputBytes: configuration.maximumOutputBytes,
            maximumLogLines: configuration.maximumLogLines,
            maximumLogLineBytes: configuration.maximumLogLineBytes,
            logger: configuration.logger,
            observer: configuration.observer
        )
        scheduleHeartbeat()
        scheduleTakeover()
        announceHost()
        // Hosts (runners that take work over) listen for other hosts' signals; a short-lived runner (a CLI command)
        // does not, so that no listening thread is inside libpq while its process exits.
        if configuration.takeoverInterval != nil {
            let signals = store.observeSignals { [weak self] signal in self?.signalled(signal) }
            state.withLock { $0.signals = signals }
        }
        do throws(CloacinaError) {
            for package in configuration.embeddedPackages { try register(package) }
            for package in configuration.packages { try register(package: package) }
            if configuration.resumeUnfinished {
                _ = try await resumeUnfinished()
            }
            packagesChanged()
        } catch {
            // Nothing may outlive a runner that failed to start: its threads and its store.
            await shutdown(timeout: .zero)
            throw error
        }
    }

    /// A runner for the PostgreSQL schema `schema` at `databaseURL`, with the default configuration: the schema and
    /// its tables are created when missing (if the role may), and every statement is scoped to it.
    /// Shorthand for `builder().databaseURL(databaseURL).schema(schema).build()`.
    public static func withSchema(_ databaseURL: String, _ schema: String) async throws(CloacinaError) -> DefaultRunner
    {
        try await builder().databaseURL(databaseURL).schema(schema).build()
    }

    /// A runner with the default configuration for `databaseURL`: shorthand for
    /// `builder().databaseURL(databaseURL).build()`.
    public convenience init(databaseURL: String) async throws(CloacinaError) {
        try await self.init(configuration: Builder().databaseURL(databaseURL).configuration)
    }

    /// Opens the store of `configuration`'s database URL with the backend its registry has for the URL's scheme.
    private static func openStore(_ configuration: Configuration) throws(CloacinaError) -> any ExecutionStore {
        let options = StoreOptions(
            schema: configuration.schema,
            tenant: configuration.tenant,
            poolSize: configuration.dbPoolSize,
            createSchema: configuration.createSchema
        )
        do throws(StoreError) {
            let backend = try configuration.stores.backend(for: configuration.databaseURL)
            return try backend.open(url: configuration.databaseURL, options: options)
        } catch {
            throw CloacinaError(.configuration, error.message)
        }
    }

    // MARK: Workflows

    /// Registers a loaded package file's workflows. Throws when another package already has one of them.
    public func register(package: LoadedPackage) throws(CloacinaError) {
        try registry.register(package)
        resumeWaiting()
    }

    /// Registers a package compiled into this program, through the same checks as a package file.
    public func register(_ package: WorkflowPackage) throws(CloacinaError) {
        let report = packages.load(embedded: package)
        guard let loaded = report.package else {
            throw CloacinaError(.invalidInput, "package \(package.name): \(report.error?.description ?? "rejected")")
        }
        try registry.register(loaded)
        resumeWaiting()
    }

    /// The workflows this runner can start, by name.
    public var workflows: [WorkflowDefinition] { registry.entries.map(\.plan.workflow) }

    // MARK: Executing

    /// Runs `workflow` with `context` as its input and waits until it ended.
    public func execute(
        _ workflow: String,
        context: [String: JSONValue] = [:]
    ) async throws(CloacinaError)
        -> ExecutionResult
    {
        try await execute(workflow, input: ContextSnapshot(context))
    }

    /// Runs `workflow` with `contextJSON` (a JSON object) as its input and waits until it ended.
    public func execute(_ workflow: String, contextJSON: [UInt8]) async throws(CloacinaError) -> ExecutionResult {
        try await execute(workflow, input: try Self.snapshot(contextJSON))
    }

    /// Starts `workflow` and returns the new execution's id once the execution is durably recorded.
    public func executeAsync(
        _ workflow: String,
        context: [String: JSONValue] = [:]
    ) async throws(CloacinaError)
        -> String
    {
        try await executeAsync(workflow, input: ContextSnapshot(context))
    }

    /// Starts `workflow` with `contextJSON` (a JSON object) and returns the new execution's id once recorded.
    public func executeAsync(_ workflow: String, contextJSON: [UInt8]) async throws(CloacinaError) -> String {
        try await executeAsync(workflow, input: try Self.snapshot(contextJSON))
    }

    private func execute(_ workflow: String, input: ContextSnapshot) async throws(CloacinaError) -> ExecutionResult {
        // The creation and the first transitions commit in order, so waiting for the end is enough.
        guard let entry = registry.workflow(named: workflow) else { throw unknownWorkflow(workflow) }
        let machine = ExecutionStateMachine(id: Self.newExecutionID(), plan: entry.plan, input: input)
        let driver = try start(machine, package: entry.package, created: nil)
        try await driver.wait()
        return driver.result(tenant: tenant)
    }

    private func executeAsync(_ workflow: String, input: ContextSnapshot) async throws(CloacinaError) -> String {
        guard let entry = registry.workflow(named: workflow) else { throw unknownWorkflow(workflow) }
        let machine = ExecutionStateMachine(id: Self.newExecutionID(), plan: entry.plan, input: input)
        return try await startRecorded(machine, package: entry.package)
    }

    /// Starts `machine` (``start(_:package:lineage:created:)``) and returns its id once its creation is durable.
    func startRecorded(
        _ machine: ExecutionStateMachine,
        package: LoadedPackage,
        lineage: ExecutionLineage = ExecutionLineage()
    ) async throws(CloacinaError) -> String {
        let created: Result<Void, CloacinaError> = await withCheckedContinuation { continuation in
            do throws(CloacinaError) {
                try start(machine, package: package, lineage: lineage) { result in
                    continuation.resume(returning: result.mapError { CloacinaError($0) })
                }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        if case .failure(let error) = created { throw refusal(error) }
        return machine.id
    }

    /// Records a new execution of `workflow` without starting it, for whichever runner of the tenant resumes
    /// unfinished executions next (this one on ``resumeUnfinished()``, another process, a daemon). Returns its id
    /// once it is durable.
    public func submit(_ workflow: String, contextJSON: [UInt8]) async throws(CloacinaError) -> String {
        let input = try Self.snapshot(contextJSON)
        guard let entry = registry.workflow(named: workflow) else { throw unknownWorkflow(workflow) }
        let id = Self.newExecutionID()
        let machine = ExecutionStateMachine(id: id, plan: entry.plan, input: input)
        let writes = creation(of: machine, package: entry.package, lineage: ExecutionLineage(), now: .now())
        guard !isClosed else { throw CloacinaError(.shuttingDown, "the runner is shutting down") }
        try checkStoreWritable()
        if case .failure(let error) = await runtime.writer.write(writes) { throw refusal(CloacinaError(error)) }
        let owner = runtime.identity.value
        try await runtime.withStore(.write) { store throws(StoreError) in
            try store.releaseLeases(owner: owner, executions: [id])
        }
        return id
    }

    /// The one way an execution starts here (``execute(_:context:)`` is this and a wait, a retry starts a machine
    /// with reused outputs): creates the execution's driver, queues its creation and starts it; `created` hears
    /// when the creation is durable.
    @discardableResult
    func start(
        _ machine: ExecutionStateMachine,
        package: LoadedPackage,
        lineage: ExecutionLineage = ExecutionLineage(),
        created: (@Sendable (Result<Void, StoreError>) -> Void)?
    ) throws(CloacinaError) -> ExecutionDriver {
        try checkStoreWritable()
        let now = Timestamp.now()
        var machine = machine
        let id = machine.id
        var writes = creation(of: machine, package: package, lineage: lineage, now: now)
        var actions = machine.start(now: now)
        Self.foldStart(of: id, into: &writes, from: &actions)
        let driver = ExecutionDriver(
            machine: machine,
            package: package,
            runtime: runtime,
            createdAt: now,
            lineage: lineage
        ) { [weak self] driver in self?.ended(driver) }
        try adopt(driver)
        var completion: StoreWriter.Completion?
        if let created {
            completion = { result in created(result.map { _ in () }) }
        }
        runtime.writer.enqueue(writes, completion: completion)
        driver.resume(with: actions)
        return driver
    }

    /// Folds the start of a new execution (its first update: running, started at) into the write that inserts
    /// it, so its row, input and all, is written once rather than inserted and then rewritten.
    private static func foldStart(
        of id: String,
        into writes: inout [StoreWrite],
        from actions: inout [ExecutionStateMachine.Action]
    ) {
        guard case .insertExecution(var record, let tasks)? = writes.first,
            let index = actions.firstIndex(where: { if case .persist = $0 { true } else { false } }),
            case .persist(var batch) = actions[index],
            let update = batch.firstIndex(where: {
                guard case .updateExecution(let update) = $0 else { return false }
                return update.id == id && update.status == .running
            }),
            case .updateExecution(let started) = batch[update]
        else { return }
        record.status = .running
        record.startedAt = started.startedAt
        writes[0] = .insertExecution(record, tasks: tasks)
        batch.remove(at: update)
        actions[index] = .persist(batch)
    }

    /// The writes that record the new execution of `machine` (owned by this runner).
    func creation(
        of machine: ExecutionStateMachine,
        package: LoadedPackage,
        lineage: ExecutionLineage,
        now: Timestamp
    ) -> [StoreWrite] {
        let record = ExecutionRecord(
            id: machine.id,
            workflow: machine.plan.workflow.name,
            package: package.reference,
            definition: machine.plan.definitionJSON,
            status: .pending,
            input: machine.input.bytes,
            createdAt: now,
            owner: runtime.identity.value,
            leaseExpiresAt: now + configuration.leaseDuration,
            retryOf: lineage.retryOf,
            rerunOf: lineage.rerunOf
        )
        let detail = lineage.retryOf.map { "retry of \($0)" } ?? lineage.rerunOf.map { "rerun of \($0)" }
        return [
            .insertExecution(record, tasks: machine.taskRecords()),
            .appendEvent(ExecutionEvent(executionID: machine.id, kind: .executionCreated, detail: detail, at: now)),
        ]
    }

    func unknownWorkflow(_ workflow: String) -> CloacinaError {
        let known = registry.entries.map(\.plan.workflow.name)
        return CloacinaError(
            .unknownWorkflow,
            "no workflow named \"\(workflow)\"" + (known.isEmpty ? "" : " (known: \(known.joined(separator: ", ")))")
        )
    }

    static func snapshot(_ json: [UInt8]) throws(CloacinaError) -> ContextSnapshot {
        do {
            return try ContextSnapshot(parsing: json)
        } catch {
            throw CloacinaError(.invalidInput, "the context must be a JSON object: \(error.message)")
        }
    }

    /// A random (version 4) UUID in its usual text form.
    static func newExecutionID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(
            separator: "-"
        )
    }

    /// Forgets a driver whose execution ended (or that stopped).
    func ended(_ driver: ExecutionDriver) {
        let backlog = state.withLock { state in
            if state.active[driver.id] === driver { state.active[driver.id] = nil }
            state.lastActive = .now
            return state.backlog
        }
        // The last sweep left executions for want of room: take more now that there is some.
        if backlog { sweepSoon() }
        // A schedule's fire times may wait for this run to end (overlap policy queue).
        if scheduleState.hasWaiting { lookSoon() }
    }

    /// Records whether the last takeover sweep filled its room (so more may be waiting).
    func setBacklog(_ full: Bool) {
        state.withLock { $0.backlog = full }
    }

    /// Tracks a driver as running here; refused once the runner is shutting down, and when another driver runs
    /// the same execution here already (two resumptions racing).
    func adopt(_ driver: ExecutionDriver) throws(CloacinaError) {
        try state.withLock { state throws(CloacinaError) in
            guard !state.closed else { throw CloacinaError(.shuttingDown, "the runner is shutting down") }
            guard state.active[driver.id] == nil else {
                throw CloacinaError(.conflict, "execution \(driver.id) already runs here")
            }
            state.active[driver.id] = driver
            state.lastActive = .now
        }
    }

    func activeDriver(_ id: String) -> ExecutionDriver? {
        state.withLock { $0.active[id] }
    }

    var hasActiveExecutions: Bool { state.withLock { !$0.active.isEmpty } }

    /// Replaces the set of executions waiting for their package; returns those that were not waiting before.
    func setWaiting(_ ids: Set<String>) -> Set<String> {
        state.withLock { state in
            defer { state.waiting = ids }
            return ids.subtracting(state.waiting)
        }
    }

    var hasWaiting: Bool { state.withLock { !$0.waiting.isEmpty } }

    /// Waits until no other ``resumeUnfinished()`` runs here, then holds the turn: two at once could claim the same
    /// execution from one snapshot, and the second would run it again after the first finished it.
    func takeResumeTurn() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mine = state.withLock { state in
                guard state.resuming else {
                    state.resuming = true
                    return true
                }
                state.resumeWaiters.append(continuation)
                return false
            }
            if mine { continuation.resume() }
        }
    }

    /// Hands the turn to the next waiting ``resumeUnfinished()``, if any.
    func giveResumeTurn() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.resumeWaiters.isEmpty else {
                state.resuming = false
                return nil
            }
            return state.resumeWaiters.removeFirst()
        }
        next?.resume()
    }

    /// How many executions this runner holds in memory (running or waiting for a task slot or a retry).
    public var activeExecutionCount: Int { state.withLock { $0.active.count } }

    /// Whether nothing has run here for at least `period`.
    func isIdle(for period: Duration) -> Bool {
        state.withLock { $0.active.isEmpty && ContinuousClock.now - $0.lastActive >= period }
    }

    /// Lets the store release what an idle runner need not hold (statements, caches, connections), in the
    /// background on the store's own queues. A host calls it on tenants that may stay quiet; the next use reopens
    /// what it needs.
    func releaseIdleResources() {
        runtime.store.releaseIdleConnections()
    }
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Asks for a run of `job`: true when the caller should start it now, false when one is under way (it runs
    /// once more after it) or the runner is closed.
    func request(_ job: CoalescedJob) -> Bool {
        state.withLock { state in !state.closed && state[keyPath: Self.scheduler(job)].requested() != .none }
    }

    /// The run of `job` finished: true when it should run once more (it was asked for meanwhile and the runner is
    /// still open).
    func finished(_ job: CoalescedJob) -> Bool {
        state.withLock { state in
            let scheduler = Self.scheduler(job)
            guard state[keyPath: scheduler].finished().next != .none else { return false }
            guard !state.closed else {
                // Closed meanwhile: the run asked for never happens; leave the scheduler idle.
                _ = state[keyPath: scheduler].finished()
                return false
            }
            return true
        }
    }

    private static func scheduler(_ job: CoalescedJob) -> WritableKeyPath<RunnerState, CoalescingScheduler> {
        switch job {
        case .takeover: return \.sweeps
        case .renewal: return \.renewals
        case .scheduleLook: return \.scheduleLooks
        }
    }

    /// When the last successful lease renewal was sent (see ``scheduleHeartbeat()``).
    var lastLeaseRenewal: Timestamp { state.withLock { $0.lastLeaseRenewal } }

    func leaseRenewed(at sent: Timestamp) {
        state.withLock { state in
            if state.lastLeaseRenewal < sent { state.lastLeaseRenewal = sent }
        }
    }

    func setTakeover(_ timer: UInt64) {
        state.withLock { $0.takeover = timer }
    }

    /// Executions running here now, and those left unclaimed because their package is not known here.
    var activeAndWaiting: (active: Int, waiting: Int) { state.withLock { ($0.active.count, $0.waiting.count) } }

    /// Keeps `timer` as the next heartbeat, unless heartbeats stopped (then it is cancelled).
    func setHeartbeat(_ timer: UInt64) {
        let kept = state.withLock { state in
            if !state.heartbeatStopped { state.heartbeat = timer }
            return !state.heartbeatStopped
        }
        if !kept { runtime.timers.cancel(timer) }
    }

    /// Stops intake and returns the drivers still running, for ``shutdown(timeout:)``.
    func close() -> [ExecutionDriver]? {
        state.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            if let takeover = state.takeover { runtime.timers.cancel(takeover) }
            stopSchedules()
            state.signals?.cancel()
            state.signals = nil
            return Array(state.active.values)
        }
    }

    /// Ends the lease renewals, once a shutdown has no more executions to hold.
    func stopHeartbeat() {
        let timer = state.withLock { state in
            state.heartbeatStopped = true
            return state.heartbeat
        }
        if let timer { runtime.timers.cancel(timer) }
    }

    var heartbeatStopped: Bool { state.withLock { $0.heartbeatStopped } }

    var activeDrivers: [ExecutionDriver] { state.withLock { Array($0.active.values) } }
}
