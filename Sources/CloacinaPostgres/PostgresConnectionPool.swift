internal import Dispatch
internal import Synchronization

/// A fixed number of ``PostgresConnection``s shared by blocking callers, each used by one caller at a time.
///
/// Connections are made lazily, by `connect` (which also prepares the session: search path, checks), up to
/// ``size``. A caller that finds every connection in use blocks its thread until one is returned, so call it only
/// from threads that may block, never from Swift's cooperative pool. A connection that broke (libpq says so, a
/// connection-class error came back, or it was left inside a transaction) is dropped and a new one is made on a
/// later checkout. The pool does no retrying; its users decide what to run again.
public final class PostgresConnectionPool: Sendable {
    /// The most connections open at once.
    public let size: Int
    private let connect: @Sendable () throws(PostgresError) -> PostgresConnection
    private let state: Mutex<State>
    /// One per connection that may be open: taken for a checkout, returned after.
    private let slots: DispatchSemaphore

    private struct State: ~Copyable {
        var idle: [PostgresConnection] = []
        var closed = false
    }

    /// A pool of at most `size` connections made by `connect`.
    public init(size: Int, connect: @escaping @Sendable () throws(PostgresError) -> PostgresConnection) {
        precondition(size >= 1, "a pool needs at least one connection")
        self.size = size
        self.connect = connect
        self.state = Mutex(State())
        self.slots = DispatchSemaphore(value: size)
    }

    /// Lends a connection to `body`, waiting for one if all are in use, and takes it back afterwards (dropping it
    /// if it broke).
    public func withConnection<T>(
        _ body: (PostgresConnection) throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        slots.wait()
        defer { slots.signal() }
        let taken: PostgresConnection? = try state.withLock { (state) throws(PostgresError) -> PostgresConnection? in
            guard !state.closed else {
                throw PostgresError(.closed, message: "the connection pool is closed", context: "taking a connection")
            }
            return state.idle.popLast()
        }
        let connection: PostgresConnection
        if let taken {
            connection = taken
        } else {
            connection = try connect()
        }
        let result: Result<T, PostgresError>
        do throws(PostgresError) {
            result = .success(try body(connection))
        } catch {
            result = .failure(error)
        }
        var broken = false
        if case .failure(let error) = result { broken = error.isConnectionFailure }
        if !broken && connection.isOpen && connection.isIdle {
            state.withLock { state in
                if !state.closed { state.idle.append(connection) }
            }
        }
        return try result.get()
    }

    /// Drops every idle connection; connections in use are dropped when returned. Later checkouts fail.
    public func close() {
        // The connections are finished (PQfinish) outside the lock, when `dropped` goes away.
        let dropped = state.withLock { state -> [PostgresConnection] in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        _ = dropped
    }

    /// Drops the idle connections (they reconnect on the next checkout), without closing the pool.
    public func dropIdleConnections() {
        state.withLock { $0.idle.removeAll() }
    }
}
