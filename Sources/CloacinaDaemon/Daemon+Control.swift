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

    /// How a new execution derives from an earlier one: retried from its failure, or run again from the start.
    public enum Derivation: String, Sendable {
        case retry, rerun
    }

    /// Starts a retry of `tenant`'s execution `id` from its failure (``DefaultRunner/retry(_:latest:)``) or a fresh
    /// run of it with the same input (``DefaultRunner/rerun(_:latest:)``); returns the new execution's id and its
    /// status then. Admitted like a submission; a quarantined version is refused.
    public func start(
        _ derivation: Derivation,
        _ tenant: TenantName,
        of id: String,
        latest: Bool
    ) async throws(CloacinaError) -> (id: String, status: ExecutionStatus) {
        try await withRunner(tenant, admit: true) { runner throws(CloacinaError) in
            try refuseQuarantined(try await runner.executionStatus(id), latest: latest)
            let started =
                switch derivation {
                case .retry: try await runner.retry(id, latest: latest)
                case .rerun: try await runner.rerun(id, latest: latest)
                }
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
