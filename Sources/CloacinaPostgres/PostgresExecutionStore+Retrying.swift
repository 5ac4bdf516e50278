internal import CloacinaStorage

/// Running statements with retries: serialization failures, deadlocks and broken connections are tried again on a
/// (possibly new) connection until ``PostgresExecutionStore/retryTimeout`` passes; everything else is reported at
/// once. Only for work that is safe to repeat: reads, and writes that leave the same state however often they run.
/// Batches of ``PostgresExecutionStore/write(_:owner:)`` go through the commit-in-doubt handling instead.
extension PostgresExecutionStore {
    /// Runs `body` on a connection of the store, outside any explicit transaction.
    func run<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(StoreError) -> T {
        var backoff = RetryBackoff(timeout: retryTimeout, closing: closing)
        while true {
            do throws(PostgresError) {
                return try withConnection(body)
            } catch {
                guard Self.isRetryable(error), backoff.pause() else { throw error.storeError }
            }
        }
    }

    /// Runs `body` in a transaction on a connection of the store, committing when it returns.
    ///
    /// A commit that is interrupted may have happened; `body` must therefore be idempotent (claims, leases and
    /// cancel requests are: running them again leaves the same state and returns the same answer).
    func transaction<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(StoreError) -> T {
        try run { connection throws(PostgresError) in
            try connection.execute("BEGIN")
            do throws(PostgresError) {
                let result = try body(connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                if connection.isOpen && !connection.isIdle { _ = try? connection.execute("ROLLBACK") }
                throw error
            }
        }
    }

    static func isRetryable(_ error: PostgresError) -> Bool {
        error.isTransient || error.isConnectionFailure
    }
}

/// Pauses between retries, doubling from 1 ms to at most 250 ms, until a deadline or until the store closes.
struct RetryBackoff {
    private let deadline: ContinuousClock.Instant
    private let closing: StoreClosing
    private var next: Duration = .milliseconds(1)

    init(timeout: Duration, closing: StoreClosing) {
        self.deadline = ContinuousClock.now + timeout
        self.closing = closing
    }

    /// Waits before the next try; false (at once, or as soon as it closes) once the deadline has passed or the
    /// store is closing.
    mutating func pause() -> Bool {
        let now = ContinuousClock.now
        guard now < deadline else { return false }
        let pause = min(next, deadline - now)
        next = min(next * 2, .milliseconds(250))
        return closing.pause(for: pause)
    }
}
