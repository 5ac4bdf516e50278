import CloacinaSQLite
import CloacinaStorage
import CloacinaTestSupport
import Logging
import Synchronization
import Testing

@testable import Cloacina

/// A SQLite store whose writes fail while told to, with the given error.
final class FlakyStore: ExecutionStore {
    let inner: SQLiteExecutionStore
    let failing = Mutex<StoreError?>(nil)
    let writes = Atomic<Int>(0)
    /// Yields after every attempted write.
    let attempts: AsyncStream<Void>
    private let attempted: AsyncStream<Void>.Continuation

    init(_ directory: TemporaryDirectory) throws {
        inner = try SQLiteExecutionStore(path: directory.file("flaky.db"))
        (attempts, attempted) = AsyncStream.makeStream()
    }

    var location: String { inner.location }
    func executor(for access: StoreAccess) -> StoreQueue { inner.executor(for: access) }
    func write(_ batch: [StoreWrite], owner: String) throws(StoreError) -> Set<String> {
        writes.add(1, ordering: .relaxed)
        defer { attempted.yield() }
        if let error = failing.withLock({ $0 }) { throw error }
        return try inner.write(batch, owner: owner)
    }
    func execution(_ id: String) throws(StoreError) -> ExecutionRecord? { try inner.execution(id) }
    func tasks(of executionID: String) throws(StoreError) -> [TaskRecord] { try inner.tasks(of: executionID) }
    func executions(_ query: ExecutionQuery) throws(StoreError) -> [ExecutionRecord] { try inner.executions(query) }
    func countExecutions(_ query: ExecutionQuery, upTo limit: Int?) throws(StoreError) -> Int {
        try inner.countExecutions(query, upTo: limit)
    }
    func statistics() throws(StoreError) -> TenantMetrics { try inner.statistics() }
    func events(of executionID: String, after: Int64, limit: Int?) throws(StoreError) -> [ExecutionEvent] {
        try inner.events(of: executionID, after: after, limit: limit)
    }
    func taskLogs(_ query: TaskLogQuery) throws(StoreError) -> TaskLogPage { try inner.taskLogs(query) }
    func claimUnfinished(
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        limit: Int?,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord] {
        try inner.claimUnfinished(
            owner: owner,
            leaseUntil: leaseUntil,
            now: now,
            limit: limit,
            ownerIsAlive: ownerIsAlive
        )
    }
    func claim(
        _ id: String,
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> ExecutionRecord? {
        try inner.claim(id, owner: owner, leaseUntil: leaseUntil, now: now, ownerIsAlive: ownerIsAlive)
    }
    func renewLeases(owner: String, until: Timestamp) throws(StoreError) -> LeaseRenewal {
        try inner.renewLeases(owner: owner, until: until)
    }
    func releaseLeases(owner: String, executions: [String]) throws(StoreError) {
        try inner.releaseLeases(owner: owner, executions: executions)
    }
    func requestCancel(_ id: String) throws(StoreError) -> Bool { try inner.requestCancel(id) }
    func setPaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool {
        try inner.setPaused(id, paused, at: now)
    }
    func createSchedule(_ schedule: ScheduleRecord) throws(StoreError) -> Bool { try inner.createSchedule(schedule) }
    func schedules() throws(StoreError) -> [ScheduleRecord] { try inner.schedules() }
    func schedule(_ id: String) throws(StoreError) -> ScheduleRecord? { try inner.schedule(id) }
    func setSchedulePaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool {
        try inner.setSchedulePaused(id, paused, at: now)
    }
    func deleteSchedule(_ id: String) throws(StoreError) -> Bool { try inner.deleteSchedule(id) }
    func fireSchedule(_ fire: ScheduleFire, owner: String) throws(StoreError) -> Bool {
        try inner.fireSchedule(fire, owner: owner)
    }
    func announceHost(_ host: HostRecord) throws(StoreError) { try inner.announceHost(host) }
    func withdrawHost(_ id: String) throws(StoreError) { try inner.withdrawHost(id) }
    func hosts() throws(StoreError) -> [HostRecord] { try inner.hosts() }
    func releaseIdleConnections() { inner.releaseIdleConnections() }
    func close() { inner.close() }
}

/// The store writer on its own: order, retries that hold no thread, the failure it reports, and giving up.
@Suite("Store writer")
struct StoreWriterTests {
    static func writer(
        _ store: FlakyStore,
        _ resources: RunnerResources,
        firstPause: Duration = .milliseconds(50)
    ) -> StoreWriter {
        StoreWriter(
            store: store,
            owner: "me",
            logger: Logger(label: "test"),
            timers: resources.timers,
            firstPause: firstPause
        )
    }

    static func event(_ id: String, _ n: Int) -> StoreWrite {
        .appendEvent(
            ExecutionEvent(executionID: id, kind: .taskStarted, attempt: n, at: Timestamp(milliseconds: Int64(n)))
        )
    }

    static func insert(_ id: String) -> StoreWrite {
        .insertExecution(
            ExecutionRecord(
                id: id,
                workflow: "w",
                package: nil,
                definition: Array("{}".utf8),
                status: .pending,
                input: Array("{}".utf8),
                createdAt: Timestamp(milliseconds: 1),
                owner: "me"
            ),
            tasks: []
        )
    }

    @Test("a batch the store refuses waits first in line; later writes keep their order; all commit once it works")
    func retriesInOrder() async throws {
        let directory = try TemporaryDirectory("writer-retry")
        let store = try FlakyStore(directory)
        let resources = RunnerResources(maxConcurrentTasks: 1)
        defer { resources.shutdown() }
        let writer = Self.writer(store, resources)
        #expect(await writer.write([Self.insert("e")]).isSuccess)
        store.failing.withLock { $0 = StoreError(.unavailable, "disk full") }
        let results = Mutex<[Int]>([])
        for n in 1...3 {
            writer.enqueue([Self.event("e", n)]) { result in
                if result.isSuccess { results.withLock { $0.append(n) } }
            }
        }
        // Tried twice (the first try and a retry), nothing reported yet, no thread held in between.
        var attempts = store.attempts.makeAsyncIterator()
        for _ in 0..<3 { _ = await attempts.next() }  // the insert, the first try, the retry
        #expect(results.withLock { $0 }.isEmpty)
        store.failing.withLock { $0 = nil }
        #expect(await writer.write([Self.event("e", 4)]).isSuccess)
        #expect(results.withLock { $0 } == [1, 2, 3])
        #expect(try store.events(of: "e").map(\.attempt) == [1, 2, 3, 4])
        #expect(writer.failure == nil)
        store.close()
    }

    @Test("a failure that lasts is reported as the store's failure; stopping fails what waits instead of waiting")
    func lastingFailure() async throws {
        let directory = try TemporaryDirectory("writer-lasting")
        let store = try FlakyStore(directory)
        let resources = RunnerResources(maxConcurrentTasks: 1)
        defer { resources.shutdown() }
        // A first pause of a second: the first failure already counts as lasting.
        let writer = Self.writer(store, resources, firstPause: .seconds(1))
        store.failing.withLock { $0 = StoreError(.unavailable, "disk full") }
        #expect(writer.failure == nil)
        let pending = Task { await writer.write([Self.insert("f")]) }
        var attempts = store.attempts.makeAsyncIterator()
        for _ in 0..<2 { _ = await attempts.next() }  // the first try, then the retry after the pause
        #expect(writer.failure?.message == "disk full")
        await writer.stop()
        let result = await pending.value
        #expect(!result.isSuccess)
        store.close()
    }

    @Test("a batch that breaks a constraint fails at once, without retries")
    func constraint() async throws {
        let directory = try TemporaryDirectory("writer-constraint")
        let store = try FlakyStore(directory)
        let resources = RunnerResources(maxConcurrentTasks: 1)
        defer { resources.shutdown() }
        let writer = Self.writer(store, resources)
        store.failing.withLock { $0 = StoreError(.constraint, "duplicate") }
        #expect(!(await writer.write([Self.insert("g")]).isSuccess))
        #expect(store.writes.load(ordering: .relaxed) == 1)
        #expect(writer.failure == nil)
        store.close()
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
