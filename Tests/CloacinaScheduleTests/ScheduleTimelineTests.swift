import CloacinaSchedule
import Testing

/// The scheduler's decisions, driven by a manual clock: each test moves `now` by hand and applies each plan's
/// `firedThrough` as the store would.
@Suite("schedule timeline")
struct ScheduleTimelineTests {
    /// A clock that only moves when told, and a timeline that records what each look decided.
    struct Driver {
        var timeline: ScheduleTimeline
        var now: Int64
        var watchingSince: Int64
        var started: [Int64] = []
        var skipped = 0
        var dropped = 0
        var missed = 0

        init(_ timeline: ScheduleTimeline, now: Int64, watchingSince: Int64? = nil) {
            self.timeline = timeline
            self.now = now
            self.watchingSince = watchingSince ?? now
        }

        /// Looks at `now` with `running` runs going; returns the plan after applying it.
        @discardableResult
        mutating func look(running: Int = 0) -> SchedulePlan? {
            guard let plan = timeline.plan(now: now, watchingSince: watchingSince, running: running) else { return nil }
            timeline.firedThrough = plan.firedThrough
            started += plan.run
            skipped += plan.skipped
            dropped += plan.dropped
            missed += plan.missed
            return plan
        }

        /// Moves the clock to the next fire time and looks.
        mutating func advanceToNextFire(running: Int = 0) {
            guard let next = timeline.nextFire else { return }
            now = max(now, next)
            look(running: running)
        }
    }

    static func hourly(_ zone: String = "UTC") throws -> CronSchedule {
        try CronSchedule("0 * * * *", timeZone: zone)
    }

    @Test("on-time fires run once each as the clock reaches them, and nothing is due in between")
    func onTime() throws {
        let start = utc("2024-05-01T00:00:00Z")
        var driver = Driver(ScheduleTimeline(schedule: try Self.hourly(), since: start), now: start)
        #expect(driver.look() == nil)
        #expect(driver.timeline.nextFire == utc("2024-05-01T01:00:00Z"))
        for _ in 0..<3 { driver.advanceToNextFire() }
        #expect(
            driver.started.map(utcText) == ["2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z", "2024-05-01T03:00:00Z"]
        )
        #expect(driver.look() == nil)  // the same instant again: nothing twice
        driver.now += 1_000
        #expect(driver.look() == nil)
        #expect(driver.missed == 0 && driver.dropped == 0)
    }

    @Test("after downtime, skip runs the latest missed time, all runs each up to the cap, none runs nothing")
    func catchUp() throws {
        let fired = utc("2024-05-01T00:00:00Z")
        let restart = utc("2024-05-01T10:30:00Z")  // 10 fire times missed
        func driver(_ policy: CatchUpPolicy, cap: Int = 100) throws -> Driver {
            var timeline = ScheduleTimeline(schedule: try Self.hourly(), catchUp: policy, cap: cap, since: 0)
            timeline.firedThrough = fired
            return Driver(timeline, now: restart)
        }
        var skip = try driver(.skip)
        skip.look()
        #expect(skip.started.map(utcText) == ["2024-05-01T10:00:00Z"])
        #expect(skip.missed == 10 && skip.dropped == 9)

        var all = try driver(.all)
        all.look()
        #expect(all.started.count == 10 && all.missed == 10 && all.dropped == 0)
        var capped = try driver(.all, cap: 3)
        capped.look()
        #expect(capped.started.map(utcText).first == "2024-05-01T08:00:00Z")
        #expect(capped.started.count == 3 && capped.dropped == 7)

        var none = try driver(.none)
        none.look()
        #expect(none.started.isEmpty && none.missed == 10 && none.dropped == 10)
        // Whatever the policy, the schedule goes on with its next time and never looks back.
        for var each in [skip, all, capped, none] {
            #expect(each.timeline.nextFire == utc("2024-05-01T11:00:00Z"))
            #expect(each.look() == nil)
            each.advanceToNextFire()
            #expect(each.started.last == utc("2024-05-01T11:00:00Z"))
        }
    }

    @Test("overlap: allow runs beside, skip leaves out, cancel-previous replaces, queue waits its turn")
    func overlap() throws {
        let start = utc("2024-05-01T00:00:00Z")
        func driver(_ policy: OverlapPolicy) throws -> Driver {
            Driver(ScheduleTimeline(schedule: try Self.hourly(), overlap: policy, since: start), now: start)
        }
        var allow = try driver(.allow)
        allow.advanceToNextFire(running: 1)
        #expect(allow.started.count == 1 && allow.skipped == 0)

        var skip = try driver(.skip)
        skip.advanceToNextFire(running: 1)
        #expect(skip.started.isEmpty && skip.skipped == 1)
        skip.advanceToNextFire(running: 0)
        #expect(skip.started.map(utcText) == ["2024-05-01T02:00:00Z"])

        var cancel = try driver(.cancelPrevious)
        cancel.now = utc("2024-05-01T01:00:00Z")
        let plan = cancel.look(running: 2)
        #expect(plan?.cancelPrevious == true && plan?.run == [utc("2024-05-01T01:00:00Z")])

        var queue = try driver(.queue)
        queue.now = utc("2024-05-01T01:00:00Z")
        #expect(queue.look(running: 1)?.waiting == 1)
        #expect(queue.started.isEmpty)
        queue.now = utc("2024-05-01T02:00:30Z")  // the previous run is still going: two wait, in order
        #expect(queue.look(running: 1)?.waiting == 2)
        queue.look(running: 0)  // it ended: the oldest starts, one still waits
        #expect(queue.started.map(utcText) == ["2024-05-01T01:00:00Z"])
        #expect(queue.timeline.nextFire == utc("2024-05-01T02:00:00Z"))
        queue.look(running: 1)
        #expect(queue.started.count == 1)
        queue.look(running: 0)
        #expect(queue.started.map(utcText) == ["2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z"])
        #expect(queue.look(running: 0) == nil && queue.skipped == 0)
    }

    @Test("several fire times due at once overlap each other: skip runs the oldest, cancel-previous the latest")
    func dueTogether() throws {
        var skip = ScheduleTimeline(schedule: try Self.hourly(), catchUp: .all, overlap: .skip, since: 0)
        skip.firedThrough = utc("2024-05-01T00:00:00Z")
        let plan = skip.plan(now: utc("2024-05-01T03:10:00Z"), watchingSince: utc("2024-05-01T03:10:00Z"), running: 0)
        #expect(plan?.run == [utc("2024-05-01T01:00:00Z")] && plan?.skipped == 2)
        var latest = skip
        latest.overlap = .cancelPrevious
        let replaced = latest.plan(now: utc("2024-05-01T03:10:00Z"), watchingSince: 0, running: 0)
        #expect(replaced?.run == [utc("2024-05-01T03:00:00Z")] && replaced?.skipped == 2)
    }

    @Test(
        "across daylight saving changes in two zones, a skipped local time fires once and a repeated one once",
        arguments: [
            // Europe/London: 2024-03-31 01:00 -> 02:00 (skipped hour), 2024-10-27 02:00 -> 01:00 (repeated hour).
            ("Europe/London", "30 1 * * *", "2024-03-30T12:00:00Z", ["2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"]),
            ("Europe/London", "30 1 * * *", "2024-10-26T12:00:00Z", ["2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"]),
            // America/New_York: 2024-03-10 02:00 -> 03:00, 2024-11-03 02:00 -> 01:00.
            (
                "America/New_York", "30 2 * * *", "2024-03-09T12:00:00Z",
                ["2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"]
            ),
            (
                "America/New_York", "30 1 * * *", "2024-11-02T12:00:00Z",
                ["2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"]
            ),
        ]
    )
    func daylightSaving(zone: String, cron: String, start: String, expected: [String]) throws {
        let since = utc(start)
        var driver = Driver(
            ScheduleTimeline(schedule: try CronSchedule(cron, timeZone: zone), since: since),
            now: since
        )
        driver.advanceToNextFire()
        driver.advanceToNextFire()
        #expect(driver.started.map(utcText) == expected)
    }

    @Test("pausing: fire times while paused never run, and a resumed schedule goes on from its next time")
    func pauseAndResume() throws {
        var timeline = ScheduleTimeline(schedule: try Self.hourly(), catchUp: .all, since: utc("2024-05-01T00:00:00Z"))
        timeline.firedThrough = utc("2024-05-01T02:00:00Z")
        // Paused at 02:10, resumed at 05:20 (``since`` is when it was resumed): 03:00-05:00 are not caught up.
        timeline.since = utc("2024-05-01T05:20:00Z")
        var driver = Driver(timeline, now: utc("2024-05-01T05:20:00Z"))
        #expect(driver.look() == nil)
        #expect(driver.timeline.nextFire == utc("2024-05-01T06:00:00Z"))
        driver.advanceToNextFire()
        #expect(driver.started.map(utcText) == ["2024-05-01T06:00:00Z"])
    }

    @Test("a schedule created while its host was down counts the fire times since creation as missed")
    func createdWhileDown() throws {
        let created = utc("2024-05-01T00:10:00Z")
        let timeline = ScheduleTimeline(schedule: try Self.hourly(), catchUp: .skip, since: created)
        var driver = Driver(timeline, now: utc("2024-05-01T03:30:00Z"))
        driver.look()
        #expect(driver.started.map(utcText) == ["2024-05-01T03:00:00Z"])
        #expect(driver.missed == 3 && driver.dropped == 2)
    }

    @Test("instants parse as users write them, and malformed ones are refused naming the text")
    func instants() throws {
        #expect(try CronSchedule.instant("2024-05-01T01:30:00Z") == utc("2024-05-01T01:30:00Z"))
        #expect(try CronSchedule.instant("2024-05-01T03:30:00.250+02:00") == utc("2024-05-01T01:30:00.250Z"))
        #expect(try CronSchedule.instant("2024-05-01") == utc("2024-05-01T00:00:00Z"))
        #expect(try CronSchedule.instant("1714527000000") == 1_714_527_000_000)
        for bad in ["", "yesterday", "2024-02-30", "2024-05-01T25:00:00Z", "2024-05-01T01:30:00", "+5"] {
            #expect(throws: ScheduleError.self) { try CronSchedule.instant(bad) }
        }
    }
}
