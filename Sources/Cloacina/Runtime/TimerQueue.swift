internal import CloacinaModel

/// One thread that runs actions when their deadlines pass: retry delays, task time limits, lease renewals.
///
/// Actions run on the timer's thread and must be short (hand work to a ``WorkerPool`` otherwise). Deadlines are on
/// `ContinuousClock`; callers convert persisted wall-clock times into delays.
final class TimerQueue: Sendable {
    private struct Entry {
        var deadline: ContinuousClock.Instant
        var id: UInt64
        var action: @Sendable () -> Void
    }

    private let lock = ConditionLock()
    nonisolated(unsafe) private var heap = Heap<Entry> { $0.deadline < $1.deadline }
    /// Ids scheduled and neither run nor cancelled.
    nonisolated(unsafe) private var live: Set<UInt64> = []
    nonisolated(unsafe) private var nextID: UInt64 = 0
    nonisolated(unsafe) private var stopped = false

    init(name: String) {
        startThread(name: name) { [self] in loop() }
    }

    /// Runs `action` once `delay` has passed; returns an id for ``cancel(_:)``.
    @discardableResult
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        lock.withLock {
            nextID += 1
            heap.insert(Entry(deadline: .now + max(delay, .zero), id: nextID, action: action))
            live.insert(nextID)
            lock.signal()
            return nextID
        }
    }

    /// Forgets a scheduled action; harmless if it already ran. Cancelled entries leave the heap when it holds
    /// twice as many entries as live ones, so timers set and cancelled at a high rate (a time limit per attempt)
    /// do not pile up until their deadlines.
    func cancel(_ id: UInt64) {
        lock.withLock {
            guard live.remove(id) != nil, heap.count > 1024, heap.count > 2 * live.count else { return }
            heap.removeAll { !live.contains($0.id) }
        }
    }

    /// The entries the heap holds (live or cancelled and not yet dropped).
    var heldEntries: Int { lock.withLock { heap.count } }

    /// Ends the thread; actions not yet run are dropped.
    func stop() {
        lock.withLock {
            stopped = true
            heap.removeAll()
            live.removeAll()
            lock.signal()
        }
    }

    private func loop() {
        lock.lock()
        while !stopped {
            guard let first = heap.first else {
                lock.wait()
                continue
            }
            if first.deadline > .now {
                lock.wait(until: first.deadline)
                continue
            }
            let entry = heap.popMin()!
            guard live.remove(entry.id) != nil else { continue }
            lock.unlock()
            entry.action()
            lock.lock()
        }
        lock.unlock()
    }
}
