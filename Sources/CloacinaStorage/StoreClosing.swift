internal import Dispatch
internal import Synchronization

/// The signal a store gives when it closes, for the waits inside it (a back-off before reconnecting, a wait for a
/// file lock) so that ``ExecutionStore/close()`` never waits one out: ``pause(for:)`` returns early once the store
/// closes. One-shot; it does not retry anything itself.
public final class StoreClosing: @unchecked Sendable {
    // A group with one member that leaves when the store closes: every waiter wakes at once, later waits return
    // at once. (@unchecked: DispatchGroup is thread-safe.)
    private let group = DispatchGroup()
    private let signalled = Atomic<Bool>(false)

    public init() {
        group.enter()
    }

    deinit {
        // A group must not be freed with a member inside.
        signal()
    }

    /// Whether the store is closing.
    public var isClosing: Bool { signalled.load(ordering: .acquiring) }

    /// Says the store is closing: wakes every ``pause(for:)``.
    public func signal() {
        guard !signalled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        group.leave()
    }

    /// Waits for `duration`, or less when the store closes meanwhile; true when the whole pause passed, false when
    /// the store is closing (at once if it already is).
    public func pause(for duration: Duration) -> Bool {
        guard !isClosing else { return false }
        let (seconds, attoseconds) = duration.components
        let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        return group.wait(timeout: .now() + .nanoseconds(Int(clamping: nanoseconds))) == .timedOut && !isClosing
    }
}
