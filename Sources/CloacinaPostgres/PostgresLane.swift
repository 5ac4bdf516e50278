package import CloacinaStorage

/// One PostgreSQL connection and the ``StoreQueue`` that uses it: a store has a fixed number of lanes (its pool
/// size), and the admin one; each call runs on one lane, after the calls queued there before it.
///
/// The connection is made by `connect` (which also prepares the session: search path, checks) on first use, and
/// made again after one that broke (libpq says so, a connection-class error came back, or it was left inside a
/// transaction) is dropped. A lane does no retrying; its users decide what to run again.
package final class PostgresLane: Sendable {
    package let queue: StoreQueue
    private let connect: @Sendable () throws(PostgresError) -> PostgresConnection
    /// Used only on ``queue``.
    nonisolated(unsafe) private var connection: PostgresConnection?

    package init(label: String, connect: @escaping @Sendable () throws(PostgresError) -> PostgresConnection) {
        self.queue = StoreQueue(label: label)
        self.connect = connect
    }

    /// Runs `body` with the lane's connection on its queue (at once when called from a job of it), connecting first
    /// when it has none, and drops the connection afterwards if it broke. Throws `closed` once the lane is closed.
    package func withConnection<T>(
        _ body: (PostgresConnection) throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        let result: Result<T, PostgresError>
        do throws(StoreError) {
            result = try queue.sync { () -> Result<T, PostgresError> in
                Result { () throws(PostgresError) in try onQueue(body) }
            }
        } catch {
            throw PostgresError(.closed, message: error.message, context: "taking a connection")
        }
        return try result.get()
    }

    private func onQueue<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        let current: PostgresConnection
        if let connection {
            current = connection
        } else {
            current = try connect()
            connection = current
        }
        do throws(PostgresError) {
            let result = try body(current)
            if !current.isOpen || !current.isIdle { connection = nil }
            return result
        } catch {
            if error.isConnectionFailure || !current.isOpen || !current.isIdle { connection = nil }
            throw error
        }
    }

    /// Drops the connection (the next call connects again), on the queue, without waiting.
    package func dropConnection() {
        queue.submit { [self] in connection = nil }
    }

    /// Fails the calls waiting here and later ones, waits for the running one, and closes the connection.
    package func close() {
        queue.close { connection = nil }
    }
}
