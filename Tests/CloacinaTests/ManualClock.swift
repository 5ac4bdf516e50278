import Synchronization

/// A clock that moves only when a test advances it, and says when something sleeps on it (postgres-nio's
/// `MockClock` shape): tests wait for that event instead of sleeping.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (left: Instant, right: Instant) -> Bool { left.offset < right.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Deadlines of sleeps begun, oldest first, not yet taken by ``nextSleep()``.
        var begun: [Instant] = []
        var watcher: CheckedContinuation<Instant, Never>?
    }

    private let state = Mutex(State())

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, watcher) = state.withLock { state -> (Bool, CheckedContinuation<Instant, Never>?) in
                    if Task.isCancelled { return (true, nil) }
                    if deadline <= state.now { return (true, nil) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    guard let watcher = state.watcher else {
                        state.begun.append(deadline)
                        return (false, nil)
                    }
                    state.watcher = nil
                    return (false, watcher)
                }
                if resumeNow {
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        continuation.resume()
                    }
                }
                watcher?.resume(returning: deadline)
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Waits until something begins to sleep on the clock (or began since the last call); returns its deadline.
    func nextSleep() async -> Instant {
        await withCheckedContinuation { (continuation: CheckedContinuation<Instant, Never>) in
            let begun: Instant? = state.withLock { state in
                guard !state.begun.isEmpty else {
                    state.watcher = continuation
                    return nil
                }
                return state.begun.removeFirst()
            }
            if let begun { continuation.resume(returning: begun) }
        }
    }

    /// Moves the clock on by `duration`, waking the sleeps whose deadlines it reaches.
    func advance(by duration: Duration) {
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// How many sleeps are waiting.
    var sleeping: Int { state.withLock { $0.sleepers.count } }
}
