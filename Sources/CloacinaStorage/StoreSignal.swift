/// What another process sharing a store tells its runners through ``ExecutionStore/observeSignals(_:)``: hints to
/// look again, never data (a runner reads what changed from the store itself).
public enum StoreSignal: Sendable, Hashable {
    /// Executions were left unclaimed (submitted without a runner, or given up by one): claim what there is room
    /// for.
    case work
    /// Someone asked for an execution to be cancelled, paused or resumed: check the ones owned here.
    case cancel
    /// A schedule was created, changed or deleted: read the schedules again.
    case schedules
    /// Signals may have been lost (the channel broke and is back): do both.
    case missed
}

/// A subscription to a store's signals; ``cancel()`` ends it (calling it again does nothing).
public final class StoreObservation: Sendable {
    private let end: @Sendable () -> Void

    public init(cancel: @escaping @Sendable () -> Void) {
        self.end = cancel
    }

    public func cancel() {
        end()
    }
}
