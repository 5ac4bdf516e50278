public import CloacinaStorage

/// An execution's task log lines as they are stored: each element is a page of new lines, oldest first (with the
/// tasks' dropped counts as they stand); the sequence ends after the lines of the execution's last attempts. An
/// attempt's lines are stored with its end, so they arrive attempt by attempt. It reads the store (every `interval`
/// while nothing new came), so it follows executions running in any host. Cancelling the iterating task ends it
/// (`cancelled`). Made by ``DefaultRunner/followTaskLogs(_:interval:)``.
public struct TaskLogFeed: AsyncSequence, Sendable {
    public typealias Element = TaskLogPage

    let runner: DefaultRunner
    let query: TaskLogQuery
    let interval: Duration

    public func makeAsyncIterator() -> Iterator {
        Iterator(feed: self, query: query)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let feed: TaskLogFeed
        var query: TaskLogQuery
        var ended = false

        /// The next page of lines, or nil once the lines stored by the execution's end were delivered.
        public mutating func next() async throws(CloacinaError) -> TaskLogPage? {
            while true {
                // The status is read before the lines, so the lines read after an end include the last ones.
                if !ended { ended = try await feed.runner.isFinished(query.executionID) }
                let page = try await feed.runner.taskLogs(query)
                if let last = page.lines.last {
                    query.after = last.sequence
                    return page
                }
                if ended { return nil }
                do {
                    try await Task.sleep(for: feed.interval)
                } catch {
                    throw CloacinaError(.cancelled, "stopped following the logs of execution \(query.executionID)")
                }
            }
        }
    }
}
