internal import CloacinaStorage
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// Running statements with retries: serialization failures, deadlocks and broken connections are tried again on a
/// (possibly new) connection until ``PostgresExecutionStore/retryTimeout`` passes; everything else is reported at
/// once. Only for work that is safe to repeat: reads, and writes that leave the same state however often they run.
/// Batches of ``PostgresExecutionStore/write(_:owner:)`` go through the commit-in-doubt handling instead.
extension PostgresExecutionStore {
    /// Runs `body` on a pooled connection, outside any explicit transaction.
    func run<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(StoreError) -> T {
        var backoff = RetryBackoff(timeout: retryTimeout)
        while true {
            do throws(PostgresError) {
                return try pool.withConnection(body)
            } catch {
                guard Self.isRetryable(error), backoff.pause() else { throw error.storeError }
            }
        }
    }

    /// Runs `body` in a transaction on a pooled connection, committing when it returns.
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

/// Pauses between retries, doubling from 1 ms to at most 250 ms, until a deadline.
struct RetryBackoff {
    private let deadline: ContinuousClock.Instant
    private var next: Duration = .milliseconds(1)

    init(timeout: Duration) {
        self.deadline = ContinuousClock.now + timeout
    }

    /// Sleeps before the next try; false (without sleeping) once the deadline has passed.
    mutating func pause() -> Bool {
        let now = ContinuousClock.now
        guard now < deadline else { return false }
        let pause = min(next, deadline - now)
        let (seconds, attoseconds) = pause.components
        usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        next = min(next * 2, .milliseconds(250))
        return true
    }
}

/// A failure the tests inject to exercise the commit-in-doubt path.
struct TestHooks: Sendable {
    /// Called with the backend's process id after a batch's statements ran, just before `COMMIT`.
    var beforeCommit: (@Sendable (Int32) -> Void)?
    /// When set, the next batch that commits behaves as if its `COMMIT` reply was lost.
    var loseNextCommitReply = false
}
