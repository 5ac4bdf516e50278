public import Cloacina
internal import Synchronization

extension Daemon {
    /// Starts `workflow` for `tenant` with `contextJSON` (a JSON object) and returns the execution id once it is
    /// durably recorded. Throws `unavailable` when the host already holds its most unfinished executions.
    public func submit(tenant: String, workflow: String, contextJSON: [UInt8]) async throws(CloacinaError) -> String {
        try await withRunner(tenant) { runner throws(CloacinaError) in
            try await admitted { () throws(CloacinaError) in
                try await runner.executeAsync(workflow, contextJSON: contextJSON)
            }
        }
    }

    /// Runs `workflow` for `tenant` and waits for its result (admitted like ``submit(tenant:workflow:contextJSON:)``).
    public func run(
        tenant: String,
        workflow: String,
        contextJSON: [UInt8]
    ) async throws(CloacinaError)
        -> ExecutionResult
    {
        try await withRunner(tenant) { runner throws(CloacinaError) in
            try await admitted { () throws(CloacinaError) in
                try await runner.execute(workflow, contextJSON: contextJSON)
            }
        }
    }

    /// One execution of `tenant`, with its tasks.
    public func execution(tenant: String, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            try await runner.executionStatus(id)
        }
    }

    /// Waits until the execution ends (when it runs in this host) and returns it with its tasks.
    public func waitForExecution(tenant: String, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            try await runner.waitForExecution(id)
        }
    }

    /// `tenant`'s executions matching `query`, newest first, and how many match in all.
    public func executions(
        tenant: String,
        query: ExecutionQuery
    ) async throws(CloacinaError) -> (executions: [ExecutionSummary], total: Int) {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            (try await runner.listExecutions(query), try await runner.countExecutions(query))
        }
    }

    /// Runs `start` (which creates one execution) if the host holds fewer unfinished executions than
    /// ``Configuration/maxPendingExecutions``, counting the tenants' runners and the submissions in progress.
    private func admitted<T>(_ start: () async throws(CloacinaError) -> T) async throws(CloacinaError) -> T {
        let limit = configuration.maxPendingExecutions
        let admitted = state.withLock { state in
            let held = state.admitting + state.served.values.reduce(0) { $0 + $1.runner.activeExecutionCount }
            guard held < limit else { return false }
            state.admitting += 1
            return true
        }
        guard admitted else {
            throw CloacinaError(
                .unavailable,
                "the host holds \(limit) unfinished executions, its limit; try again later"
            )
        }
        defer { state.withLock { $0.admitting -= 1 } }
        return try await start()
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
}
