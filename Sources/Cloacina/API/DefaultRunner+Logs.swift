public import CloacinaStorage

extension DefaultRunner {
    /// The log lines of execution `id`'s attempts matching `query`'s filters: at most `query.limit` of them, oldest
    /// first, after sequence number `query.after`; with the lines its tasks dropped over their bound
    /// (``TaskLogPage/dropped``). Throws `notFound` for an unknown execution, or a task the execution does not have.
    public func taskLogs(_ query: TaskLogQuery) async throws(CloacinaError) -> TaskLogPage {
        let page = try await runtime.withStore(.read) { store throws(StoreError) in try store.taskLogs(query) }
        // Lines prove the execution and task exist; only an empty page is checked.
        if page.lines.isEmpty { try await requireTask(query) }
        return page
    }

    /// Execution `id`'s log lines matching `query` (its `after` and filters) as they are stored: see
    /// ``TaskLogFeed``. Throws `notFound` for an unknown execution or task.
    public func followTaskLogs(
        _ query: TaskLogQuery,
        interval: Duration = .milliseconds(200)
    ) async throws(CloacinaError) -> TaskLogFeed {
        try await requireTask(query)
        return TaskLogFeed(runner: self, query: query, interval: interval)
    }

    /// Throws `notFound` unless the execution exists and has the task the query names (if any).
    private func requireTask(_ query: TaskLogQuery) async throws(CloacinaError) {
        let execution = try await executionStatus(query.executionID)
        if let task = query.taskID, !execution.tasks.contains(where: { $0.id == task }) {
            throw CloacinaError(.notFound, "execution \(query.executionID) has no task \(task)")
        }
    }
}
