public import Cloacina

/// Pausing, resuming, retrying and re-running a tenant's executions (the runner's operations of the same names).
extension Daemon {
    /// Pauses one of `tenant`'s executions (``DefaultRunner/pause(_:)``), also while draining; `notFound` for an
    /// unknown execution, `conflict` for one that ended.
    public func pause(_ tenant: TenantName, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in try await runner.pause(id) }
    }

    /// Resumes one of `tenant`'s executions (``DefaultRunner/resume(_:)``): where no live host runs it, this one
    /// takes it over, so it is admitted like a submission.
    public func resume(_ tenant: TenantName, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await withRunner(tenant, admit: true) { runner throws(CloacinaError) in try await runner.resume(id) }
    }

    /// Starts a retry of `tenant`'s execution `id` from its failure (``DefaultRunner/retry(_:latest:)``); returns
    /// the new execution's id and its status then. Admitted like a submission.
    public func retry(
        _ tenant: TenantName,
        id: String,
        latest: Bool
    ) async throws(CloacinaError) -> (id: String, status: ExecutionStatus) {
        try await withRunner(tenant, admit: true) { runner throws(CloacinaError) in
            try refuseQuarantined(try await runner.executionStatus(id), latest: latest)
            let started = try await runner.retry(id, latest: latest)
            return (started, (try? await runner.executionStatus(started).status) ?? .pending)
        }
    }

    /// Starts a fresh run of `tenant`'s execution `id` with the same input (``DefaultRunner/rerun(_:latest:)``).
    public func rerun(
        _ tenant: TenantName,
        id: String,
        latest: Bool
    ) async throws(CloacinaError) -> (id: String, status: ExecutionStatus) {
        try await withRunner(tenant, admit: true) { runner throws(CloacinaError) in
            try refuseQuarantined(try await runner.executionStatus(id), latest: latest)
            let started = try await runner.rerun(id, latest: latest)
            return (started, (try? await runner.executionStatus(started).status) ?? .pending)
        }
    }

    /// Refuses a retry or re-run of `origin` on a quarantined version: the serving one with `latest`, else its pin.
    private func refuseQuarantined(_ origin: ExecutionResult, latest: Bool) throws(CloacinaError) {
        if latest {
            try refuseIfQuarantined(origin.workflow)
        } else if let sha256 = origin.package?.sha256 {
            try refuseIfQuarantined(origin.workflow, sha256: sha256)
        }
    }
}
