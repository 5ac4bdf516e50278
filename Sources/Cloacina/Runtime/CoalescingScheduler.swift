/// Decides when a job that must not overlap itself runs (a reload, a takeover sweep, a check for cancel requests):
/// at most one at a time, and a burst of requests made while one runs collapses into a single run after it.
///
/// A pure state machine (events in, actions out). A request is answered by the first run that *starts after* it,
/// so a caller always gets a result that reflects the world as it was when it asked (a reload report, say).
public struct CoalescingScheduler: Sendable {
    /// What the shell should do next.
    public enum Action: Sendable, Equatable {
        case none
        /// Start a run; tell `waiters` its result when it finishes.
        case start(waiters: [UInt64])
    }

    private var running = false
    private var again = false
    private var current: [UInt64] = []
    private var queued: [UInt64] = []

    public init() {}

    /// Whether a run is under way.
    public var isRunning: Bool { running }

    /// Someone asked for a run; `waiter` (if any) wants its result.
    public mutating func requested(waiter: UInt64? = nil) -> Action {
        guard running else {
            running = true
            current = waiter.map { [$0] } ?? []
            return .start(waiters: current)
        }
        again = true
        if let waiter { queued.append(waiter) }
        return .none
    }

    /// The run under way finished; returns the waiters to tell, and what to do next.
    public mutating func finished() -> (notify: [UInt64], next: Action) {
        let notify = current
        guard again else {
            running = false
            current = []
            return (notify, .none)
        }
        again = false
        current = queued
        queued = []
        return (notify, .start(waiters: current))
    }
}
