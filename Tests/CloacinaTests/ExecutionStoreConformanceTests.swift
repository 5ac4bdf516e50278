import CloacinaStorage
import CloacinaTestSupport
import Foundation
import Synchronization
import Testing

/// The behaviour every ``ExecutionStore`` must have, run against each backend in ``StoreBackend/available``.
///
/// Written against the protocol only: a new backend passes this suite or it is not a store.
@Suite("ExecutionStore conformance")
struct ExecutionStoreConformanceTests {
    static let owner = "runner-a"
    static let other = "runner-b"

    static func execution(
        _ id: String,
        workflow: String = "flow",
        status: ExecutionStatus = .pending,
        createdAt: Int64 = 1_000,
        owner: String? = ExecutionStoreConformanceTests.owner,
        lease: Int64? = 10_000,
        package: PackageReference? = PackageReference(name: "pkg", version: "1.0.0", sha256: "ab12")
    ) -> ExecutionRecord {
        ExecutionRecord(
            id: id,
            workflow: workflow,
            package: package,
            definition: Array(#"{"name":"flow"}"#.utf8),
            status: status,
            input: Array(#"{"n":1}"#.utf8),
            createdAt: Timestamp(milliseconds: createdAt),
            owner: owner,
            leaseExpiresAt: lease.map(Timestamp.init(milliseconds:))
        )
    }

    static func tasks(_ id: String, _ names: [String] = ["a", "b"]) -> [TaskRecord] {
        names.enumerated().map { index, name in
            TaskRecord(executionID: id, taskID: name, position: index, status: .pending, maxAttempts: 3)
        }
    }

    /// Opens a fresh store of `backend`, runs `body`, and always cleans up.
    static func with(
        _ backend: StoreBackend,
        _ label: String,
        _ body: (OpenedStore) throws -> Void
    ) throws {
        let opened = try backend.open(label)
        defer {
            opened.store.close()
            opened.cleanup()
        }
        try body(opened)
    }

    @Test(
        "an inserted execution and its tasks read back exactly, and survive reopening",
        arguments: StoreBackend.available
    )
    func roundTrip(_ backend: StoreBackend) throws {
        try Self.with(backend, "roundtrip") { (opened: OpenedStore) throws in
            let store = opened.store
            var record = Self.execution("e1")
            record.input =
                Array(#"{"text":"héllo \u2603 ✓","big":"#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 1 << 20)
                + Array("}".utf8)
            let embedded = Self.execution("e2", package: PackageReference(name: "host", version: "2", sha256: nil))
            let lost = try store.write(
                [.insertExecution(record, tasks: Self.tasks("e1")), .insertExecution(embedded, tasks: [])],
                owner: Self.owner
            )
            #expect(lost.isEmpty)
            for reader in [store, try opened.reopen()] {
                let read = try #require(try reader.execution("e1"))
                #expect(read == record)
                #expect(
                    try reader.execution("e2")?.package == PackageReference(name: "host", version: "2", sha256: nil)
                )
                #expect(try reader.tasks(of: "e1") == Self.tasks("e1"))
                if reader !== store { reader.close() }
            }
            #expect(try store.execution("missing") == nil)
            #expect(try store.tasks(of: "missing").isEmpty)
            #expect(try store.events(of: "missing").isEmpty)
        }
    }

    @Test("updates change what they name and keep what they leave nil", arguments: StoreBackend.available)
    func updates(_ backend: StoreBackend) throws {
        try Self.with(backend, "updates") { (opened: OpenedStore) throws in
            let store = opened.store
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: Self.tasks("e1"))], owner: Self.owner)
            _ = try store.write(
                [
                    .updateExecution(
                        ExecutionUpdate(id: "e1", status: .running, startedAt: Timestamp(milliseconds: 2_000))
                    )
                ],
                owner: Self.owner
            )
            var task = Self.tasks("e1")[0]
            task.status = .retrying
            task.attempt = 1
            task.nextRetryAt = Timestamp(milliseconds: 5_000)
            task.startedAt = Timestamp(milliseconds: 2_100)
            task.error = "busy"
            _ = try store.write([.updateTask(task)], owner: Self.owner)
            let final = Array(#"{"n":1,"a":true}"#.utf8)
            _ = try store.write(
                [
                    .updateExecution(
                        ExecutionUpdate(
                            id: "e1",
                            status: .failed,
                            completedAt: Timestamp(milliseconds: 3_000),
                            finalContext: final,
                            error: "task a failed"
                        )
                    )
                ],
                owner: Self.owner
            )
            let read = try #require(try store.execution("e1"))
            #expect(read.status == .failed)
            #expect(read.startedAt == Timestamp(milliseconds: 2_000))
            #expect(read.completedAt == Timestamp(milliseconds: 3_000))
            #expect(read.finalContext == final)
            #expect(read.error == "task a failed")
            #expect(try store.tasks(of: "e1") == [task, Self.tasks("e1")[1]])

            // A task update replaces every field, clearing the ones now nil.
            task.status = .completed
            task.nextRetryAt = nil
            task.error = nil
            task.output = Array(#"{"done":1}"#.utf8)
            task.completedAt = Timestamp(milliseconds: 2_900)
            _ = try store.write([.updateTask(task)], owner: Self.owner)
            #expect(try store.tasks(of: "e1").first == task)
        }
    }

    @Test("events append in order with increasing sequence numbers", arguments: StoreBackend.available)
    func events(_ backend: StoreBackend) throws {
        try Self.with(backend, "events") { (opened: OpenedStore) throws in
            let store = opened.store
            let kinds: [ExecutionEvent.Kind] = [.executionCreated, .executionStarted, .taskStarted, .taskCompleted]
            var writes: [StoreWrite] = [.insertExecution(Self.execution("e1"), tasks: Self.tasks("e1"))]
            writes += kinds.prefix(2).map {
                .appendEvent(ExecutionEvent(executionID: "e1", kind: $0, at: .init(milliseconds: 1)))
            }
            _ = try store.write(writes, owner: Self.owner)
            _ = try store.write(
                [
                    .appendEvent(
                        ExecutionEvent(
                            executionID: "e1",
                            taskID: "a",
                            kind: kinds[2],
                            attempt: 1,
                            at: .init(milliseconds: 2)
                        )
                    ),
                    .appendEvent(
                        ExecutionEvent(
                            executionID: "e1",
                            taskID: "a",
                            kind: kinds[3],
                            attempt: 1,
                            detail: "ok",
                            at: .init(milliseconds: 3)
                        )
                    ),
                ],
                owner: Self.owner
            )
            let events = try store.events(of: "e1")
            #expect(events.map(\.kind) == kinds)
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            #expect(events[3].taskID == "a" && events[3].attempt == 1 && events[3].detail == "ok")
            #expect(events[3].at == Timestamp(milliseconds: 3))
            #expect(events[0].taskID == nil && events[0].attempt == nil && events[0].detail == nil)
        }
    }

    @Test(
        "log lines of attempts are stored in order with level, time and attempt, filtered, paged and counted as dropped",
        arguments: StoreBackend.available
    )
    func taskLogs(_ backend: StoreBackend) throws {
        try Self.with(backend, "logs") { (opened: OpenedStore) throws in
            let store = opened.store
            func entries(_ prefix: String, _ count: Int) -> [TaskLogBatch.Entry] {
                (0..<count).map { n in
                    TaskLogBatch.Entry(
                        level: TaskLogLine.Level.allCases[n % TaskLogLine.Level.allCases.count],
                        message: "\(prefix) \(n) héllo ✓ 'quoted' \"double\" {\\}",
                        at: Timestamp(milliseconds: Int64(100 + n))
                    )
                }
            }
            // 300 lines take several multi-row statements; they come back in the order written.
            _ = try store.write(
                [
                    .insertExecution(Self.execution("e1"), tasks: Self.tasks("e1")),
                    .appendLogs(TaskLogBatch(executionID: "e1", taskID: "a", attempt: 1, entries: entries("a1", 300))),
                    .appendLogs(
                        TaskLogBatch(executionID: "e1", taskID: "b", attempt: 1, entries: entries("b1", 3), dropped: 7)
                    ),
                ],
                owner: Self.owner
            )
            _ = try store.write(
                [
                    .appendLogs(
                        TaskLogBatch(executionID: "e1", taskID: "a", attempt: 2, entries: entries("a2", 2), dropped: 5)
                    ),
                    .appendLogs(TaskLogBatch(executionID: "e1", taskID: "a", attempt: 3, entries: [], dropped: 1)),
                ],
                owner: Self.owner
            )
            for reader in [store, try opened.reopen()] {
                let all = try reader.taskLogs(TaskLogQuery(executionID: "e1", limit: 10_000))
                #expect(all.lines.count == 305)
                #expect(zip(all.lines, all.lines.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
                #expect(
                    all.lines.map(\.message).prefix(2) == [
                        "a1 0 héllo ✓ 'quoted' \"double\" {\\}", "a1 1 héllo ✓ 'quoted' \"double\" {\\}",
                    ]
                )
                #expect(all.lines[7].level == TaskLogLine.Level.allCases[0] && all.lines[1].level == .debug)
                #expect(all.lines[299].at == Timestamp(milliseconds: 399) && all.lines[299].attempt == 1)
                #expect(all.lines.allSatisfy { $0.executionID == "e1" })
                #expect(all.dropped == ["a": 6, "b": 7])

                let second = try reader.taskLogs(TaskLogQuery(executionID: "e1", taskID: "a", attempt: 2))
                #expect(second.lines.map(\.message).map { $0.prefix(4) } == ["a2 0", "a2 1"])
                #expect(second.lines.allSatisfy { $0.taskID == "a" && $0.attempt == 2 })
                #expect(second.dropped == ["a": 6])
                #expect(try reader.taskLogs(TaskLogQuery(executionID: "e1", taskID: "b")).dropped == ["b": 7])

                // Paged by sequence: each page starts after the last line of the one before.
                var query = TaskLogQuery(executionID: "e1", taskID: "a", limit: 128)
                var paged: [TaskLogLine] = []
                while true {
                    let page = try reader.taskLogs(query).lines
                    paged += page
                    guard let last = page.last else { break }
                    query.after = last.sequence
                }
                #expect(paged == all.lines.filter { $0.taskID == "a" })
                #expect(try reader.taskLogs(TaskLogQuery(executionID: "none")) == TaskLogPage())
                #expect(try reader.taskLogs(TaskLogQuery(executionID: "e1", taskID: "c")) == TaskLogPage())
            }
            // Lines of an execution the writer does not own are dropped with its other changes.
            _ = try store.claim(
                "e1",
                owner: Self.other,
                leaseUntil: .init(milliseconds: 90_000),
                now: .init(milliseconds: 20_000),
                ownerIsAlive: { _ in false }
            )
            let lost = try store.write(
                [
                    .appendLogs(
                        TaskLogBatch(executionID: "e1", taskID: "b", attempt: 2, entries: entries("x", 1), dropped: 1)
                    )
                ],
                owner: Self.owner
            )
            #expect(lost == ["e1"])
            let after = try store.taskLogs(TaskLogQuery(executionID: "e1", taskID: "b"))
            #expect(after.lines.count == 3 && after.dropped == ["b": 7])
        }
    }

    @Test("changes to executions the writer does not own are dropped and reported", arguments: StoreBackend.available)
    func ownership(_ backend: StoreBackend) throws {
        try Self.with(backend, "ownership") { (opened: OpenedStore) throws in
            let store = opened.store
            _ = try store.write(
                [
                    .insertExecution(Self.execution("mine"), tasks: Self.tasks("mine")),
                    .insertExecution(Self.execution("theirs", owner: Self.other), tasks: Self.tasks("theirs")),
                ],
                owner: Self.owner
            )
            // The insert makes the writer the owner, whatever the record said.
            #expect(try store.execution("theirs")?.owner == Self.owner)
            _ = try store.claim(
                "theirs",
                owner: Self.other,
                leaseUntil: .init(milliseconds: 90_000),
                now: .init(milliseconds: 20_000),
                ownerIsAlive: { _ in false }
            )
            let lost = try store.write(
                [
                    .updateExecution(ExecutionUpdate(id: "mine", status: .running)),
                    .updateExecution(ExecutionUpdate(id: "theirs", status: .cancelled)),
                    .appendEvent(
                        ExecutionEvent(executionID: "theirs", kind: .executionCreated, at: .init(milliseconds: 1))
                    ),
                ],
                owner: Self.owner
            )
            #expect(lost == ["theirs"])
            #expect(try store.execution("mine")?.status == .running)
            #expect(try store.execution("theirs")?.status == .pending)
            #expect(try store.events(of: "theirs").isEmpty)
            #expect(
                try store.write([.updateExecution(ExecutionUpdate(id: "theirs", status: .running))], owner: Self.other)
                    .isEmpty
            )
            #expect(try store.execution("theirs")?.status == .running)
        }
    }

    @Test("a batch that breaks a constraint leaves no trace of any of its writes", arguments: StoreBackend.available)
    func atomicBatches(_ backend: StoreBackend) throws {
        try Self.with(backend, "atomic") { (opened: OpenedStore) throws in
            let store = opened.store
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: Self.tasks("e1"))], owner: Self.owner)
            do {
                _ = try store.write(
                    [
                        .updateExecution(ExecutionUpdate(id: "e1", status: .running)),
                        .appendEvent(
                            ExecutionEvent(executionID: "e1", kind: .executionStarted, at: .init(milliseconds: 1))
                        ),
                        .insertExecution(Self.execution("e2"), tasks: Self.tasks("e2")),
                        .insertExecution(Self.execution("e1"), tasks: []),
                    ],
                    owner: Self.owner
                )
                Issue.record("a duplicate execution id was accepted")
            } catch let error as StoreError {
                #expect(error.code == .constraint)
            }
            #expect(try store.execution("e1")?.status == .pending)
            #expect(try store.events(of: "e1").isEmpty)
            #expect(try store.execution("e2") == nil)
            #expect(try store.tasks(of: "e2").isEmpty)
            // The store is still usable after the failed batch.
            _ = try store.write([.updateExecution(ExecutionUpdate(id: "e1", status: .running))], owner: Self.owner)
            #expect(try store.execution("e1")?.status == .running)
        }
    }

    @Test(
        "listing is newest first, filtered by status and workflow, and paged; counting ignores paging",
        arguments: StoreBackend.available
    )
    func listing(_ backend: StoreBackend) throws {
        try Self.with(backend, "listing") { (opened: OpenedStore) throws in
            let store = opened.store
            let statuses: [ExecutionStatus] = [.completed, .failed, .running, .completed, .cancelled, .pending]
            var writes: [StoreWrite] = []
            for (index, status) in statuses.enumerated() {
                let record = Self.execution(
                    "e\(index)",
                    workflow: index.isMultiple(of: 2) ? "even" : "odd",
                    status: status,
                    createdAt: 1_000 + Int64(index)
                )
                writes.append(.insertExecution(record, tasks: []))
            }
            _ = try store.write(writes, owner: Self.owner)
            #expect(try store.executions(ExecutionQuery()).map(\.id) == ["e5", "e4", "e3", "e2", "e1", "e0"])
            #expect(try store.executions(ExecutionQuery(limit: 2, offset: 1)).map(\.id) == ["e4", "e3"])
            #expect(try store.executions(ExecutionQuery(limit: 2, offset: 10)).isEmpty)
            #expect(try store.executions(ExecutionQuery(statuses: [.completed])).map(\.id) == ["e3", "e0"])
            #expect(
                try store.executions(ExecutionQuery(statuses: [.completed, .failed])).map(\.id) == ["e3", "e1", "e0"]
            )
            #expect(try store.executions(ExecutionQuery(workflow: "even")).map(\.id) == ["e4", "e2", "e0"])
            #expect(try store.executions(ExecutionQuery(statuses: [.completed], workflow: "odd")).map(\.id) == ["e3"])
            #expect(try store.executions(ExecutionQuery(workflow: "none")).isEmpty)
            #expect(try store.countExecutions(ExecutionQuery(limit: 1)) == 6)
            #expect(
                try store.countExecutions(ExecutionQuery(statuses: [.completed, .cancelled], limit: 1, offset: 5)) == 3
            )
            #expect(try store.countExecutions(ExecutionQuery(workflow: "odd")) == 3)
            // A workflow name that looks like SQL is just a name.
            #expect(try store.executions(ExecutionQuery(workflow: "x' OR '1'='1")).isEmpty)
        }
    }

    @Test(
        "pages by cursor follow one another without gaps or repeats; counts stop at their limit; ids found by prefix",
        arguments: StoreBackend.available
    )
    func cursorPaging(_ backend: StoreBackend) throws {
        try Self.with(backend, "cursor") { (opened: OpenedStore) throws in
            let store = opened.store
            // Three executions share each creation time.
            let ids = (0..<10).map { "id\($0)" }
            let writes = ids.enumerated().map { index, id in
                StoreWrite.insertExecution(
                    Self.execution(id, status: index == 4 ? .failed : .completed, createdAt: 1_000 + Int64(index / 3)),
                    tasks: []
                )
            }
            _ = try store.write(writes, owner: Self.owner)
            let newestFirst = try store.executions(ExecutionQuery(limit: 100)).map(\.id)
            #expect(newestFirst == ["id9", "id8", "id7", "id6", "id5", "id4", "id3", "id2", "id1", "id0"])
            var paged: [String] = []
            var query = ExecutionQuery(limit: 4)
            while true {
                let page = try store.executions(query)
                paged += page.map(\.id)
                guard page.count == query.limit, let last = page.last else { break }
                query.after = ExecutionCursor(token: ExecutionCursor(after: last).token)
            }
            #expect(paged == newestFirst)
            let afterFailed = ExecutionCursor(createdAt: Timestamp(milliseconds: 1_001), id: "id4")
            #expect(
                try store.executions(ExecutionQuery(statuses: [.completed], after: afterFailed)).map(\.id) == [
                    "id3", "id2", "id1", "id0",
                ]
            )
            #expect(try store.countExecutions(ExecutionQuery(), upTo: 3) == 3)
            #expect(try store.countExecutions(ExecutionQuery(), upTo: 50) == 10)
            #expect(try store.countExecutions(ExecutionQuery(statuses: [.failed]), upTo: 3) == 1)
            #expect(try store.executions(ExecutionQuery(idPrefix: "id")).count == 10)
            #expect(try store.executions(ExecutionQuery(idPrefix: "id7")).map(\.id) == ["id7"])
            #expect(try store.executions(ExecutionQuery(idPrefix: "id7x")).isEmpty)
            #expect(try store.executions(ExecutionQuery(idPrefix: "%")).isEmpty)
            // A listing carries no definition or contexts; one execution read by id carries them all.
            let listed = try #require(try store.executions(ExecutionQuery(idPrefix: "id7")).first)
            #expect(listed.definition.isEmpty && listed.input.isEmpty && listed.finalContext == nil)
            #expect(listed.package == Self.execution("id7").package && listed.status == .completed)
        }
    }

    @Test(
        "contexts and definitions read back exactly through their own tables; a final context replaces the one before",
        arguments: StoreBackend.available
    )
    func contextsAndDefinitions(_ backend: StoreBackend) throws {
        try Self.with(backend, "contexts") { (opened: OpenedStore) throws in
            let store = opened.store
            var first = Self.execution("c1")
            first.definition = Array(#"{"name":"shared","tasks":[]}"#.utf8)
            first.input = Array(#"{"big":"\#(String(repeating: "x", count: 100_000))"}"#.utf8)
            var second = Self.execution("c2")
            second.definition = first.definition
            var third = Self.execution("c3")
            third.definition = Array(#"{"name":"other"}"#.utf8)
            third.finalContext = Array(#"{"done":true}"#.utf8)
            _ = try store.write(
                [
                    .insertExecution(first, tasks: []), .insertExecution(second, tasks: []),
                    .insertExecution(third, tasks: []),
                ],
                owner: Self.owner
            )
            for record in [first, second, third] {
                let read = try #require(try store.execution(record.id))
                #expect(read.definition == record.definition && read.input == record.input)
                #expect(read.finalContext == record.finalContext)
            }
            // Small and large final contexts (kept in the row or in one of their own) replace one another.
            let large = #"{"big":"\#(String(repeating: "y", count: 10_000))"}"#
            for context in [#"{"n":2}"#, large, #"{"n":2}"#, large, large + " ", #"[{"set":{"n":3}}]"#] {
                _ = try store.write(
                    [
                        .updateExecution(
                            ExecutionUpdate(id: "c1", status: .completed, finalContext: Array(context.utf8))
                        )
                    ],
                    owner: Self.owner
                )
                #expect(try store.execution("c1")?.finalContext == Array(context.utf8))
            }
            // A later update without a final context keeps it.
            _ = try store.write([.updateExecution(ExecutionUpdate(id: "c1", status: .completed))], owner: Self.owner)
            #expect(try store.execution("c1")?.finalContext == Array(#"[{"set":{"n":3}}]"#.utf8))
            #expect(try store.execution("c1")?.input == first.input)
            // Claims read whole records too.
            let claimed = try store.claimUnfinished(
                owner: Self.other,
                leaseUntil: Timestamp(milliseconds: 99_999),
                now: Timestamp(milliseconds: 50_000),
                ownerIsAlive: { _ in false }
            )
            #expect(claimed.map(\.id).sorted() == ["c2", "c3"])
            #expect(claimed.allSatisfy { $0.definition == (($0.id == "c3") ? third.definition : first.definition) })
        }
    }

    @Test("statistics count by status and average the durations of ended executions", arguments: StoreBackend.available)
    func statistics(_ backend: StoreBackend) throws {
        try Self.with(backend, "statistics") { (opened: OpenedStore) throws in
            let store = opened.store
            #expect(try store.statistics() == TenantMetrics())
            var records: [ExecutionRecord] = []
            for (index, (status, duration)) in [
                (ExecutionStatus.completed, 100), (.completed, 300), (.failed, 500), (.running, nil), (.pending, nil),
                (.cancelled, nil),
            ].enumerated() {
                var record = Self.execution("e\(index)", status: status)
                if let duration {
                    record.startedAt = Timestamp(milliseconds: 5_000)
                    record.completedAt = Timestamp(milliseconds: 5_000 + Int64(duration))
                } else if status == .running {
                    record.startedAt = Timestamp(milliseconds: 5_000)
                } else if status == .cancelled {
                    // Cancelled before it started: it has no duration to average.
                    record.completedAt = Timestamp(milliseconds: 6_000)
                }
                records.append(record)
            }
            _ = try store.write(records.map { .insertExecution($0, tasks: []) }, owner: Self.owner)
            let statistics = try store.statistics()
            #expect(
                statistics.executionsByStatus == [.completed: 2, .failed: 1, .running: 1, .pending: 1, .cancelled: 1]
            )
            #expect(statistics.totalExecutions == 6)
            #expect(statistics.activeExecutions == 2)
            #expect(statistics.averageExecutionTime == .milliseconds(300))
        }
    }

    @Test(
        "a sweep with a limit takes at most that many, oldest first, and two sweeps never take one execution twice",
        arguments: StoreBackend.available
    )
    func limitedClaims(_ backend: StoreBackend) throws {
        try Self.with(backend, "limited") { (opened: OpenedStore) throws in
            let store = opened.store
            let writes = (0..<7).map { index in
                StoreWrite.insertExecution(
                    Self.execution("x\(index)", createdAt: Int64(index), owner: "gone", lease: 1),
                    tasks: []
                )
            }
            _ = try store.write(writes, owner: "gone")
            let now = Timestamp(milliseconds: 10_000)
            func sweep(_ owner: String, _ limit: Int?) throws -> [String] {
                try store.claimUnfinished(
                    owner: owner,
                    leaseUntil: now + .seconds(60),
                    now: now,
                    limit: limit,
                    ownerIsAlive: { $0 != "gone" }
                ).map(\.id)
            }
            #expect(try sweep("host-1", 3) == ["x0", "x1", "x2"])
            #expect(try sweep("host-2", 3) == ["x3", "x4", "x5"])
            #expect(try sweep("host-3", nil) == ["x6"])
            #expect(try sweep("host-4", 10).isEmpty)
            #expect(try store.execution("x4")?.owner == "host-2")
        }
    }

    @Test(
        "host entries: announced, refreshed, counted by the executions their runners own, withdrawn",
        arguments: StoreBackend.available
    )
    func hostEntries(_ backend: StoreBackend) throws {
        try Self.with(backend, "hosts") { (opened: OpenedStore) throws in
            let store = opened.store
            let now = Timestamp(milliseconds: 1_000_000)
            func entry(_ id: String, at time: Timestamp, capacity: Int = 4) -> HostRecord {
                HostRecord(
                    id: id,
                    address: "127.0.0.1:8080",
                    version: "0.1.0",
                    capacity: capacity,
                    startedAt: now,
                    heartbeatAt: time,
                    expiresAt: time + .seconds(15)
                )
            }
            // Owner names are `host/pid/start/nonce`: "h_1/7/9" must not count "h1/7/9"'s or "h_1/7/90"'s.
            for (id, owner) in [("a", "h_1/7/9/aa"), ("b", "h_1/7/9/bb"), ("c", "h1/7/9/cc"), ("d", "h_1/7/90/dd")] {
                let write = StoreWrite.insertExecution(Self.execution(id, owner: owner, lease: 99_999_999), tasks: [])
                _ = try store.write([write], owner: owner)
            }
            try store.announceHost(entry("h_1/7/9", at: now))
            try store.announceHost(entry("h_1/7/9", at: now + .seconds(5), capacity: 8))
            let hosts = try store.hosts()
            #expect(hosts.count == 1)
            let host = try #require(hosts.first)
            #expect(host.capacity == 8 && host.heartbeatAt == now + .seconds(5) && host.startedAt == now)
            #expect(host.owned == 2)
            #expect(host.isLive(at: now + .seconds(19)) && !host.isLive(at: now + .seconds(20)))
            try store.withdrawHost("h_1/7/9")
            #expect(try store.hosts().isEmpty)
        }
    }

    @Test("claims take unfinished executions no live runner owns, and only those", arguments: StoreBackend.available)
    func claims(_ backend: StoreBackend) throws {
        try Self.with(backend, "claims") { (opened: OpenedStore) throws in
            let store = opened.store
            // Inserted by runner-a; ownership is then rearranged by claims and releases.
            _ = try store.write(
                [
                    .insertExecution(Self.execution("released", createdAt: 1), tasks: []),
                    .insertExecution(Self.execution("live", createdAt: 2), tasks: []),
                    .insertExecution(Self.execution("expired", createdAt: 3), tasks: []),
                    .insertExecution(Self.execution("dead", createdAt: 4), tasks: []),
                    .insertExecution(Self.execution("done", status: .completed, createdAt: 5), tasks: []),
                    .insertExecution(Self.execution("running", status: .running, createdAt: 6), tasks: []),
                ],
                owner: Self.owner
            )
            try store.releaseLeases(owner: Self.owner, executions: ["released"])
            #expect(try store.execution("released")?.owner == nil)
            let now = Timestamp(milliseconds: 50_000)
            for (id, owner, lease) in [
                ("live", "runner-live", 99_000), ("expired", "runner-slow", 60_000), ("dead", "runner-dead", 99_000),
            ] {
                #expect(
                    try store.claim(
                        id,
                        owner: owner,
                        leaseUntil: .init(milliseconds: Int64(lease)),
                        now: .init(milliseconds: 20_000),
                        ownerIsAlive: { _ in false }
                    )?.owner == owner
                )
            }
            let later = Timestamp(milliseconds: 70_000)
            let claimed = try store.claimUnfinished(
                owner: "runner-new",
                leaseUntil: later + .seconds(30),
                now: later,
                ownerIsAlive: { $0 != "runner-dead" }
            )
            // Oldest first; the running one is still owned by runner-a, whose lease (10 000) has ended.
            #expect(claimed.map(\.id) == ["released", "expired", "dead", "running"])
            #expect(claimed.allSatisfy { $0.owner == "runner-new" && $0.leaseExpiresAt == later + .seconds(30) })
            #expect(try store.execution("live")?.owner == "runner-live")
            #expect(try store.execution("done")?.owner == Self.owner)
            #expect(try store.execution("expired")?.owner == "runner-new")

            // A runner's own executions are claimable by it again; a live owner's are not claimable by others.
            #expect(
                try store.claim(
                    "expired",
                    owner: "runner-new",
                    leaseUntil: later,
                    now: later,
                    ownerIsAlive: { _ in true }
                ) != nil
            )
            #expect(
                try store.claim("live", owner: "runner-new", leaseUntil: later, now: later, ownerIsAlive: { _ in true })
                    == nil
            )
            #expect(
                try store.claim(
                    "done",
                    owner: "runner-new",
                    leaseUntil: later,
                    now: later,
                    ownerIsAlive: { _ in false }
                ) == nil
            )
            #expect(
                try store.claim(
                    "missing",
                    owner: "runner-new",
                    leaseUntil: later,
                    now: later,
                    ownerIsAlive: { _ in false }
                ) == nil
            )
        }
    }

    @Test(
        "pausing an unfinished execution is durable, evented once per change, and reported by lease renewal",
        arguments: StoreBackend.available
    )
    func pausing(_ backend: StoreBackend) throws {
        try Self.with(backend, "pausing") { (opened: OpenedStore) throws in
            let store = opened.store
            _ = try store.write(
                [
                    .insertExecution(Self.execution("a", createdAt: 1), tasks: []),
                    .insertExecution(Self.execution("b", createdAt: 2), tasks: []),
                    .insertExecution(Self.execution("c", status: .failed, createdAt: 3), tasks: []),
                ],
                owner: Self.owner
            )
            let now = Timestamp(milliseconds: 5_000)
            #expect(try store.setPaused("a", true, at: now))
            #expect(try !store.setPaused("a", true, at: now))  // already paused: nothing written
            #expect(try !store.setPaused("b", false, at: now))  // not paused
            #expect(try !store.setPaused("c", true, at: now))  // ended
            #expect(try !store.setPaused("missing", true, at: now))
            #expect(try store.execution("a")?.paused == true)
            #expect(try store.execution("b")?.paused == false)
            #expect(try store.events(of: "a").map(\.kind) == [.executionPaused])
            #expect(try store.events(of: "c").isEmpty)

            let until = Timestamp(milliseconds: 777_000)
            #expect(try store.renewLeases(owner: Self.owner, until: until) == LeaseRenewal(paused: ["a"]))
            #expect(try store.setPaused("a", false, at: now))
            #expect(try store.events(of: "a").map(\.kind) == [.executionPaused, .executionUnpaused])
            #expect(try store.renewLeases(owner: Self.owner, until: until) == LeaseRenewal())
            #expect(try store.execution("a")?.paused == false)
        }
    }

    @Test(
        "leases renew for unfinished executions, report cancel requests, and release",
        arguments: StoreBackend.available
    )
    func leases(_ backend: StoreBackend) throws {
        try Self.with(backend, "leases") { (opened: OpenedStore) throws in
            let store = opened.store
            _ = try store.write(
                [
                    .insertExecution(Self.execution("a", createdAt: 1), tasks: []),
                    .insertExecution(Self.execution("b", createdAt: 2), tasks: []),
                    .insertExecution(Self.execution("c", status: .completed, createdAt: 3), tasks: []),
                ],
                owner: Self.owner
            )
            #expect(try store.requestCancel("b"))
            #expect(try store.requestCancel("b"))
            #expect(try !store.requestCancel("c"))
            #expect(try !store.requestCancel("missing"))
            #expect(try store.execution("b")?.cancelRequested == true)
            #expect(try store.execution("a")?.cancelRequested == false)

            let until = Timestamp(milliseconds: 777_000)
            #expect(try store.renewLeases(owner: Self.owner, until: until) == LeaseRenewal(cancelRequested: ["b"]))
            #expect(try store.execution("a")?.leaseExpiresAt == until)
            #expect(try store.execution("b")?.leaseExpiresAt == until)
            #expect(try store.execution("c")?.leaseExpiresAt == Timestamp(milliseconds: 10_000))
            #expect(try store.renewLeases(owner: Self.other, until: until) == LeaseRenewal())

            try store.releaseLeases(owner: Self.other, executions: ["a"])
            #expect(try store.execution("a")?.owner == Self.owner)
            try store.releaseLeases(owner: Self.owner, executions: ["a", "b"])
            #expect(try store.execution("a")?.owner == nil)
            #expect(try store.execution("b")?.leaseExpiresAt == nil)
            try store.releaseLeases(owner: Self.owner, executions: [])
        }
    }

    @Test("concurrent writers lose nothing", arguments: StoreBackend.available)
    func concurrentWriters(_ backend: StoreBackend) throws {
        try Self.with(backend, "concurrent") { (opened: OpenedStore) throws in
            let store = opened.store
            let writers = 4
            let batches = 25
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: writers) { writer in
                do {
                    for batch in 0..<batches {
                        let id = "w\(writer)-\(batch)"
                        _ = try store.write(
                            [
                                .insertExecution(Self.execution(id), tasks: Self.tasks(id)),
                                .appendEvent(
                                    ExecutionEvent(executionID: id, kind: .executionCreated, at: .init(milliseconds: 1))
                                ),
                            ],
                            owner: Self.owner
                        )
                        var task = Self.tasks(id)[1]
                        task.status = .completed
                        _ = try store.write(
                            [
                                .updateTask(task),
                                .updateExecution(ExecutionUpdate(id: id, status: .completed)),
                                .appendEvent(
                                    ExecutionEvent(
                                        executionID: id,
                                        kind: .executionCompleted,
                                        at: .init(milliseconds: 2)
                                    )
                                ),
                            ],
                            owner: Self.owner
                        )
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(try store.countExecutions(ExecutionQuery(statuses: [.completed])) == writers * batches)
            for writer in 0..<writers {
                for batch in 0..<batches {
                    let id = "w\(writer)-\(batch)"
                    #expect(try store.tasks(of: id).map(\.status) == [.pending, .completed])
                    #expect(try store.events(of: id).map(\.kind) == [.executionCreated, .executionCompleted])
                }
            }
        }
    }
}
