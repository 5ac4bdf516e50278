import CloacinaSQLite
import CloacinaStorage
import CloacinaTestSupport
import Dispatch
import Synchronization
import Testing

/// A store's serial queue on its own: order, one job at a time, cancellation before a job starts, closing while
/// calls wait, calls from inside a job; and the closing signal that ends a store's waits.
@Suite("Store queue")
struct StoreQueueTests {
    /// A job that holds the queue until ``open()``.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        func hold(_ queue: StoreQueue) { queue.submit { self.semaphore.wait() } }
        func open() { semaphore.signal() }
    }

    /// A flag jobs set, readable from the test.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    /// What jobs did, in order.
    final class Log: Sendable {
        private let entries = Mutex<[String]>([])
        func append(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// Waits (yielding) until `queue` has `jobs` jobs queued or running.
    static func waitForLoad(_ queue: StoreQueue, _ jobs: Int) async {
        while queue.load < jobs { await Task.yield() }
    }

    @Test("jobs run one at a time, in the order they came, whichever way they came")
    func order() async throws {
        let queue = StoreQueue(label: "order")
        let seen = Mutex<[Int]>([])
        let running = Mutex(0)
        let overlapped = Flag()
        @Sendable func job(_ n: Int) {
            let concurrent = running.withLock { count in
                count += 1
                return count
            }
            if concurrent > 1 { overlapped.set() }
            seen.withLock { $0.append(n) }
            running.withLock { $0 -= 1 }
        }
        for n in 0..<100 { queue.submit { job(n) } }
        try queue.sync { () throws(StoreError) in job(100) }
        try await queue.run { () throws(StoreError) in job(101) }
        #expect(seen.withLock { $0 } == Array(0...101))
        #expect(!overlapped.isSet)
    }

    @Test("a call made from a job of the queue runs at once, inside that job")
    func reentrant() throws {
        let queue = StoreQueue(label: "reentrant")
        #expect(!queue.isCurrent)
        let inner = try queue.sync { () throws(StoreError) in
            #expect(queue.isCurrent)
            return try queue.sync { () throws(StoreError) in queue.isCurrent ? 1 : 0 }
        }
        #expect(inner == 1)
    }

    @Test("a call whose task is cancelled before its job starts fails at once with cancelled, and never runs")
    func cancelledBeforeStart() async throws {
        let queue = StoreQueue(label: "cancel")
        let gate = Gate()
        gate.hold(queue)
        let ran = Flag()
        let waiting = Task {
            try await queue.run { () throws(StoreError) in ran.set() }
        }
        await Self.waitForLoad(queue, 2)
        waiting.cancel()
        // It fails while the queue is still held: it does not wait for its turn.
        #expect((await waiting.result).storeErrorCode == .cancelled)
        // A task cancelled before it called does not queue anything.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await queue.run { () throws(StoreError) in ran.set() }
        }
        await #expect(throws: StoreError.self) { try await early.value }
        gate.open()
        try queue.sync { () throws(StoreError) in }
        #expect(!ran.isSet)
    }

    @Test("closing lets the running job finish, fails the waiting calls and later ones with closed, then runs last")
    func closeWhileQueued() async throws {
        let queue = StoreQueue(label: "close")
        let gate = Gate()
        let order = Log()
        let started = Flag()
        queue.submit {
            started.set()
            order.append("running")
        }
        gate.hold(queue)
        while !started.isSet { await Task.yield() }
        let waiting = Task {
            try await queue.run { () throws(StoreError) in order.append("waiting ran") }
        }
        await Self.waitForLoad(queue, 2)
        let refused = Flag()
        queue.submit({ order.append("submitted ran") }, ifClosed: { refused.set() })
        let closed = Task.detached {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    queue.close { order.append("last") }
                    continuation.resume()
                }
            }
        }
        while !queue.isClosed { await Task.yield() }
        gate.open()
        await closed.value
        #expect((await waiting.result).storeErrorCode == .closed)
        #expect(refused.isSet)
        #expect(order.all == ["running", "last"])
        #expect(throws: StoreError.self) { try queue.sync { () throws(StoreError) in } }
        await #expect(throws: StoreError.self) { try await queue.run { () throws(StoreError) in } }
    }

    @Test("the closing signal ends a pause at once, also one already under way")
    func closingEndsPauses() async {
        let closing = StoreClosing()
        let paused = Task.detached {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                DispatchQueue.global().async { continuation.resume(returning: closing.pause(for: .seconds(3600))) }
            }
        }
        closing.signal()
        #expect(await paused.value == false)
        #expect(closing.pause(for: .seconds(3600)) == false)
        #expect(closing.isClosing)
    }

    @Test("closing a SQLite store ends a write's wait for a lock another connection holds", .timeLimit(.minutes(1)))
    func sqliteCloseEndsLockWait() async throws {
        let directory = try TemporaryDirectory("queue-lock")
        let path = directory.file("locked.db")
        let store = try SQLiteExecutionStore(path: path, lockTimeout: .seconds(3600))
        let other = try SQLiteConnection(path: path)
        try other.execute("BEGIN IMMEDIATE")
        let writer = store.executor(for: .write)
        let write = Task {
            try await writer.run { () throws(StoreError) in _ = try store.requestCancel("x") }
        }
        await Self.waitForLoad(writer, 1)
        store.close()
        await #expect(throws: StoreError.self) { try await write.value }
        try other.execute("ROLLBACK")
    }
}

extension Result where Failure == any Error {
    /// The code of the ``StoreError`` this failed with; nil for a success or another error.
    var storeErrorCode: StoreError.Code? {
        guard case .failure(let error) = self else { return nil }
        return (error as? StoreError)?.code
    }
}
