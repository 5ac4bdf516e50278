import CloacinaSchedule
import CloacinaStorage
import CloacinaTestSupport
import Testing

extension ExecutionStoreConformanceTests {
    static func schedule(_ id: String, paused: Bool = false) -> ScheduleRecord {
        ScheduleRecord(
            id: id,
            workflow: "flow",
            cron: "*/5 * * * * *",
            timeZone: "Europe/Paris",
            input: Array(#"{"n":2}"#.utf8),
            startsAt: Timestamp(milliseconds: 1_000),
            endsAt: Timestamp(milliseconds: 9_000_000),
            catchUp: .all,
            catchUpCap: 7,
            overlap: .cancelPrevious,
            paused: paused,
            createdAt: Timestamp(milliseconds: 500)
        )
    }

    static func scheduled(_ id: String, for fire: Int64, held: Bool = false) -> ScheduledExecution {
        var record = execution(id, createdAt: fire)
        record.paused = held
        return ScheduledExecution(
            record: record,
            tasks: tasks(id),
            created: ExecutionEvent(executionID: id, kind: .executionCreated, at: Timestamp(milliseconds: fire)),
            scheduledFor: Timestamp(milliseconds: fire)
        )
    }

    @Test(
        "schedules are created once, read back exactly, paused, resumed and deleted",
        arguments: StoreBackend.available
    )
    func schedules(_ backend: StoreBackend) throws {
        try Self.with(backend, "schedules") { (opened: OpenedStore) throws in
            let store = opened.store
            let nightly = Self.schedule("nightly")
            #expect(try store.createSchedule(nightly))
            var other = Self.schedule("nightly")
            other.workflow = "else"
            #expect(try !store.createSchedule(other))  // the id exists: nothing written
            #expect(try store.createSchedule(Self.schedule("a-first", paused: true)))
            #expect(try store.schedule("nightly") == nightly)
            #expect(try store.schedules().map(\.id) == ["a-first", "nightly"])
            #expect(try store.schedule("missing") == nil)

            let later = Timestamp(milliseconds: 60_000)
            #expect(try store.setSchedulePaused("nightly", true, at: later))
            #expect(try !store.setSchedulePaused("nightly", true, at: later))
            #expect(try !store.setSchedulePaused("missing", true, at: later))
            #expect(try store.schedule("nightly")?.paused == true)
            #expect(try store.schedule("nightly")?.updatedAt == later)
            #expect(try store.setSchedulePaused("nightly", false, at: later))
            #expect(try store.schedule("nightly")?.paused == false)

            #expect(try store.deleteSchedule("a-first"))
            #expect(try !store.deleteSchedule("a-first"))
            #expect(try store.schedules().map(\.id) == ["nightly"])
        }
    }

    @Test(
        "a fire inserts unowned executions with their fire times once, advances fired-through, and never twice",
        arguments: StoreBackend.available
    )
    func firing(_ backend: StoreBackend) throws {
        try Self.with(backend, "firing") { (opened: OpenedStore) throws in
            let store = opened.store
            #expect(try store.createSchedule(Self.schedule("s")))
            let first = ScheduleFire(
                scheduleID: "s",
                firedThrough: Timestamp(milliseconds: 20_000),
                executions: [Self.scheduled("e1", for: 15_000), Self.scheduled("e2", for: 20_000, held: true)]
            )
            #expect(try store.fireSchedule(first, owner: Self.owner))
            #expect(try store.schedule("s")?.firedThrough == Timestamp(milliseconds: 20_000))
            let e2 = try #require(try store.execution("e2"))
            #expect(e2.owner == nil && e2.leaseExpiresAt == nil)
            #expect(e2.scheduleID == "s" && e2.scheduledFor == Timestamp(milliseconds: 20_000))
            #expect(e2.paused)
            #expect(try store.tasks(of: "e1").map(\.taskID) == ["a", "b"])
            #expect(try store.events(of: "e1").map(\.kind) == [.executionCreated])
            let listed = try store.executions(ExecutionQuery(scheduleID: "s"))
            #expect(listed.map(\.id) == ["e2", "e1"])
            #expect(listed.map(\.scheduledFor?.milliseconds) == [20_000, 15_000])
            #expect(try store.executions(ExecutionQuery(scheduleID: "other")).isEmpty)

            // Another host fires the same time: refused whole, nothing written.
            let again = ScheduleFire(
                scheduleID: "s",
                firedThrough: Timestamp(milliseconds: 25_000),
                executions: [Self.scheduled("e3", for: 25_000), Self.scheduled("e4", for: 20_000)]
            )
            #expect(throws: StoreError.self) { try store.fireSchedule(again, owner: Self.owner) }
            #expect(try store.execution("e3") == nil)
            #expect(try store.schedule("s")?.firedThrough == Timestamp(milliseconds: 20_000))

            // Skipping (no executions) only advances; an older fired-through never moves it back.
            #expect(
                try store.fireSchedule(
                    ScheduleFire(scheduleID: "s", firedThrough: .init(milliseconds: 30_000)),
                    owner: Self.owner
                )
            )
            #expect(
                try store.fireSchedule(
                    ScheduleFire(scheduleID: "s", firedThrough: .init(milliseconds: 5_000)),
                    owner: Self.owner
                )
            )
            #expect(try store.schedule("s")?.firedThrough == Timestamp(milliseconds: 30_000))

            // A paused or deleted schedule does not fire.
            #expect(try store.setSchedulePaused("s", true, at: Timestamp(milliseconds: 31_000)))
            let paused = ScheduleFire(
                scheduleID: "s",
                firedThrough: Timestamp(milliseconds: 35_000),
                executions: [Self.scheduled("e5", for: 35_000)]
            )
            #expect(try !store.fireSchedule(paused, owner: Self.owner))
            #expect(try store.execution("e5") == nil)
            #expect(try !store.fireSchedule(ScheduleFire(scheduleID: "missing", firedThrough: nil), owner: Self.owner))

            // Fired executions are anyone's to claim.
            let claimed = try store.claimUnfinished(
                owner: Self.other,
                leaseUntil: Timestamp(milliseconds: 99_000),
                now: Timestamp(milliseconds: 40_000),
                ownerIsAlive: { _ in true }
            )
            #expect(Set(claimed.map(\.id)) == ["e1", "e2"])
        }
    }

    @Test(
        "log queries for attempt numbers beyond the stored range find nothing instead of failing",
        arguments: StoreBackend.available
    )
    func hugeAttempt(_ backend: StoreBackend) throws {
        try Self.with(backend, "huge-attempt") { (opened: OpenedStore) throws in
            _ = try opened.store.write(
                [.insertExecution(Self.execution("a"), tasks: Self.tasks("a"))],
                owner: Self.owner
            )
            let beyond = TaskLogQuery(executionID: "a", taskID: "a", attempt: Int(Int32.max) + 1)
            #expect(try opened.store.taskLogs(beyond).lines.isEmpty)
            #expect(try opened.store.taskLogs(TaskLogQuery(executionID: "a", attempt: Int.max)).lines.isEmpty)
        }
    }

    @Test(
        "events page by sequence: after a sequence number, at most a limit, oldest first",
        arguments: StoreBackend.available
    )
    func eventPages(_ backend: StoreBackend) throws {
        try Self.with(backend, "event-pages") { (opened: OpenedStore) throws in
            let store = opened.store
            let events = (0..<5).map { index in
                StoreWrite.appendEvent(
                    ExecutionEvent(executionID: "a", kind: .taskStarted, attempt: index + 1, at: .init(milliseconds: 1))
                )
            }
            _ = try store.write(
                [.insertExecution(Self.execution("a"), tasks: Self.tasks("a"))] + events,
                owner: Self.owner
            )
            _ = try store.write(
                [
                    .insertExecution(Self.execution("b"), tasks: []),
                    .appendEvent(ExecutionEvent(executionID: "b", kind: .executionCreated, at: .init(milliseconds: 1))),
                ],
                owner: Self.owner
            )
            let all = try store.events(of: "a")
            #expect(all.map(\.attempt) == [1, 2, 3, 4, 5])
            let page = try store.events(of: "a", after: all[1].sequence, limit: 2)
            #expect(page.map(\.attempt) == [3, 4])
            #expect(try store.events(of: "a", after: all[4].sequence, limit: 10).isEmpty)
            #expect(try store.events(of: "a", after: 0, limit: 0).isEmpty)
            #expect(try store.events(of: "b", after: 0, limit: nil).map(\.kind) == [.executionCreated])
        }
    }
}
