public import Cloacina
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

extension Daemon {
    /// Starts `workflow` for `tenant` with `contextJSON` (a JSON object) and returns the execution id once it is
    /// durably recorded.
    public func submit(tenant: String, workflow: String, contextJSON: [UInt8]) async throws(CloacinaError) -> String {
        try await runner(for: tenant).executeAsync(workflow, contextJSON: contextJSON)
    }

    /// Runs `workflow` for `tenant` and waits for its result.
    public func run(
        tenant: String,
        workflow: String,
        contextJSON: [UInt8]
    ) async throws(CloacinaError)
        -> ExecutionResult
    {
        try await runner(for: tenant).execute(workflow, contextJSON: contextJSON)
    }

    /// One execution of `tenant`, with its tasks.
    public func execution(tenant: String, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await runner(for: tenant, intake: false).executionStatus(id)
    }

    /// Waits until the execution ends (when it runs in this host) and returns it with its tasks.
    public func waitForExecution(tenant: String, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await runner(for: tenant, intake: false).waitForExecution(id)
    }

    /// `tenant`'s executions matching `query`, newest first, and how many match in all.
    public func executions(
        tenant: String,
        query: ExecutionQuery
    ) async throws(CloacinaError) -> (executions: [ExecutionSummary], total: Int) {
        let runner = try await runner(for: tenant, intake: false)
        return (try await runner.listExecutions(query), try await runner.countExecutions(query))
    }

    /// What every file of the drop directory and the host serve: `{generation, packages: [file states], host:
    /// [{name, version, workflows}]}`.
    public func workflowsJSON() -> JSONValue {
        let (report, host) = state.withLock { state in
            (
                ReloadReport(generation: state.generation, summary: ReloadSummary(generation: state.generation.number)),
                state.hostPackages
            )
        }
        return [
            "generation": .int(report.generation),
            "packages": .array(report.files.map(\.json)),
            "host": .array(
                host.map { package in
                    [
                        "name": .string(package.info.name),
                        "version": .string(package.info.version),
                        "workflows": .array(package.workflows.map { .string($0.name) }),
                    ]
                }
            ),
        ]
    }

    /// The runner of a tenant this daemon serves. Throws `notFound` for a tenant it does not serve,
    /// `invalidInput` for an invalid id, and `shuttingDown` while draining when `intake` is true (reads are
    /// still answered while draining).
    func runner(for tenant: String, intake: Bool = true) async throws(CloacinaError) -> DefaultRunner {
        let (phase, known) = state.withLock { ($0.phase, $0.knownTenants.contains(tenant)) }
        switch phase {
        case .starting: throw CloacinaError(.shuttingDown, "the host is starting")
        case .draining where intake, .stopped: throw CloacinaError(.shuttingDown, "the host is shutting down")
        case .serving, .draining: break
        }
        try tenants.validate(tenant)
        if !known {
            switch configuration.tenants {
            case .only:
                throw CloacinaError(.notFound, "unknown tenant \"\(tenant)\"")
            case .all:
                guard try await exists(tenant) else { throw CloacinaError(.notFound, "unknown tenant \"\(tenant)\"") }
                state.withLock { _ = $0.knownTenants.insert(tenant) }
            }
        }
        return try await tenants.runner(for: tenant)
    }

    /// Whether `tenant` has storage: its SQLite file, or its PostgreSQL schema with Cloacina's tables.
    private func exists(_ tenant: String) async throws(CloacinaError) -> Bool {
        switch configuration.storage {
        case .sqliteFiles(let directory):
            return access("\(directory)/\(tenant).db", F_OK) == 0
        case .postgresSchemas(let url):
            let admin = try DatabaseAdmin(databaseURL: url)
            defer { admin.close() }
            return try await admin.listTenants().contains(tenant)
        }
    }
}
