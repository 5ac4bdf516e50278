public import CloacinaStorage

/// An execution's history as it is recorded: each element is a batch of new events, oldest first; the sequence
/// ends after the batch that holds the execution's end. It reads the store (every `interval` while nothing new
/// came), so it follows executions running in any host. Cancelling the iterating task ends it (`cancelled`).
/// Made by ``DefaultRunner/followEvents(of:after:interval:)``; not a subscription: nothing is buffered for it.
public struct ExecutionEventFeed: AsyncSequence, Sendable {
    public typealias Element = [ExecutionEvent]

    let runner: DefaultRunner
    let id: String
    let after: Int64
    let interval: Duration

    public func makeAsyncIterator() -> Iterator {
        Iterator(feed: self, after: after)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let feed: ExecutionEventFeed
        var after: Int64
        var ended = false

        /// The next batch of events, or nil once the execution's end was delivered. Throws `notFound` for an
        /// unknown execution.
        public mutating func next() async throws(CloacinaError) -> [ExecutionEvent]? {
            var first = true
            while !ended {
                if !first {
                    do {
                        try await Task.sleep(for: feed.interval)
                    } catch {
                        throw CloacinaError(.cancelled, "stopped following execution \(feed.id)")
                    }
                }
                first = false
                // The status is read before the events, so the batch read after an end includes the end. Both reads
                // cost the same however large the execution's contexts and history are (its row alone, the events
                // after the last one delivered).
                ended = try await feed.runner.isFinished(feed.id)
                let events = try await feed.runner.events(of: feed.id, after: after)
                if let last = events.last {
                    self.after = last.sequence
                    return events
                }
            }
            return nil
        }
    }
}
