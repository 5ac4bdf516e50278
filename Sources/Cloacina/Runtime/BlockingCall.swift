/// Blocking calls that are not store calls (probing and loading packages, whose init code may hang; the drop
/// directory's watch), run on threads outside Swift's cooperative pool and awaited. (Store calls run on each
/// store's own queues: ``ExecutionStore/executor(for:)``.)
///
/// The calls share one ``WorkerPool``, which keeps its threads for the next calls. A call that hangs holds one
/// thread, not the caller's, and the others go on: the limit is high (calls may wait for one another, as a reload
/// waits for its probe), and bounds only a runaway. Task attempts run on the runners' task threads.
public enum BlockingCall {
    private static let pool = WorkerPool(name: "cloacina-blocking", limit: 256)

    /// Runs `body` on a thread of the pool and waits for it without blocking the caller's thread. Throws
    /// `cancelled` when the caller's task is cancelled before `body` started (once started it runs to its end).
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws(CloacinaError) -> T {
        try await pool.run(discardedError: CloacinaError(.shuttingDown, "the blocking-call pool stopped")) { body() }
    }
}
