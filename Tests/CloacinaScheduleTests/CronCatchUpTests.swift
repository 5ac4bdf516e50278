import CloacinaSchedule
import Testing

extension CronTests {
    @Suite("catch-up")
    struct CatchUpTests {
        let hourly: CronSchedule
        let lastFire = utc("2024-05-01T00:00:00Z")
        /// Ten hourly fires missed: 01:00 to 10:00.
        let now = utc("2024-05-01T10:30:00Z")

        init() throws {
            hourly = try CronSchedule("0 * * * *", timeZone: "Europe/London")
        }

        @Test("skip, the default, runs only the latest missed time and counts the others as dropped")
        func skip() {
            let missed = hourly.missedFires(since: lastFire, now: now, policy: .skip)
            #expect(missed.fires == [utc("2024-05-01T10:00:00Z")])
            #expect(missed.missed == 10)
            #expect(missed.dropped == 9)
            #expect(hourly.missedFires(since: lastFire, now: now) == missed)
            #expect(CatchUpPolicy.defaultPolicy == .skip)
        }

        @Test("all runs every missed time, oldest first, when they fit under the cap")
        func all() {
            let missed = hourly.missedFires(since: lastFire, now: now, policy: .all)
            #expect(missed.fires == (1...10).map { lastFire + Int64($0) * 3_600_000 })
            #expect(missed.missed == 10)
            #expect(missed.dropped == 0)
        }

        @Test("all keeps the latest `cap` times and reports how many older ones it dropped")
        func allCapped() {
            let missed = hourly.missedFires(since: lastFire, now: now, policy: .all, cap: 3)
            #expect(
                missed.fires.map(utcText) == ["2024-05-01T08:00:00Z", "2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"]
            )
            #expect(missed.missed == 10)
            #expect(missed.dropped == 7)
            #expect(hourly.missedFires(since: lastFire, now: now, policy: .all, cap: 0).fires.isEmpty)
            #expect(hourly.missedFires(since: lastFire, now: now, policy: .all, cap: -5).dropped == 10)
            #expect(
                hourly.missedFires(since: lastFire, now: now, policy: .all, cap: 1).fires == [
                    utc("2024-05-01T10:00:00Z")
                ]
            )
        }

        @Test("the default cap is 100")
        func defaultCap() throws {
            let everyMinute = try CronSchedule("* * * * *")
            let day = everyMinute.missedFires(
                since: utc("2024-05-01T00:00:00Z"),
                now: utc("2024-05-02T00:00:00Z"),
                policy: .all
            )
            #expect(CatchUpPolicy.defaultCap == 100)
            #expect(day.missed == 1440)
            #expect(day.fires.count == 100)
            #expect(day.dropped == 1340)
            #expect(day.fires.first.map(utcText) == "2024-05-01T22:21:00Z")
            #expect(day.fires.last.map(utcText) == "2024-05-02T00:00:00Z")
        }

        @Test("none runs nothing and still counts what was missed")
        func none() {
            let missed = hourly.missedFires(since: lastFire, now: now, policy: CatchUpPolicy.none)
            #expect(missed.fires.isEmpty)
            #expect(missed.missed == 10)
            #expect(missed.dropped == 10)
        }

        @Test("nothing is missed before the next fire time, or when now is not after the last fire")
        func nothingMissed() {
            for policy in CatchUpPolicy.allCases {
                let early = hourly.missedFires(since: lastFire, now: lastFire + 3_599_999, policy: policy)
                #expect(early == MissedFires(fires: [], missed: 0))
                #expect(hourly.missedFires(since: now, now: lastFire, policy: policy).missed == 0)
                #expect(hourly.missedFires(since: now, now: now, policy: policy).missed == 0)
            }
        }

        @Test("the window is (last fire, now]: a fire exactly at now is missed, the last fire itself is not")
        func windowEdges() {
            let missed = hourly.missedFires(since: lastFire, now: utc("2024-05-01T02:00:00Z"), policy: .all)
            #expect(missed.fires.map(utcText) == ["2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z"])
        }

        @Test("the end date bounds what was missed")
        func endBounds() throws {
            let ending = try CronSchedule("0 * * * *", end: utc("2024-05-01T03:00:00Z"))
            let missed = ending.missedFires(since: lastFire, now: now, policy: .all)
            #expect(
                missed.fires.map(utcText) == ["2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z", "2024-05-01T03:00:00Z"]
            )
            #expect(ending.missedFires(since: lastFire, now: now, policy: .skip).fires == [utc("2024-05-01T03:00:00Z")])
        }

        @Test("the repeated hour of a change back counts once")
        func acrossFallBack() throws {
            let schedule = try CronSchedule("*/30 * * * *", timeZone: "America/New_York")
            // 00:00 EDT to 03:00 EST is four hours: 00:30, 01:00, 01:30 EDT, 02:00, 02:30, 03:00 EST.
            let missed = schedule.missedFires(
                since: utc("2024-11-03T04:00:00Z"),
                now: utc("2024-11-03T08:00:00Z"),
                policy: .all
            )
            #expect(missed.missed == 6)
            #expect(
                missed.fires.map { localText($0, "America/New_York") } == [
                    "2024-11-03 00:30:00 -04:00", "2024-11-03 01:00:00 -04:00", "2024-11-03 01:30:00 -04:00",
                    "2024-11-03 02:00:00 -05:00", "2024-11-03 02:30:00 -05:00", "2024-11-03 03:00:00 -05:00",
                ]
            )
        }

        @Test("a long outage of a frequent schedule is counted without listing its fires")
        func longOutage() throws {
            // Every second for ten years in London: every second of real time fires (the skipped hour of spring
            // fires at its end, and its end is a fire time anyway) except the second pass through the repeated hour
            // of each autumn.
            let everySecond = try CronSchedule("* * * * * *", timeZone: "Europe/London")
            let since = utc("2014-01-01T00:00:00Z")
            let now = utc("2024-01-01T00:00:00Z")
            let seconds = Int(now - since) / 1000 - 10 * 3600
            for policy in CatchUpPolicy.allCases {
                let missed = everySecond.missedFires(since: since, now: now, policy: policy)
                #expect(missed.missed == seconds)
            }
            let skipped = everySecond.missedFires(since: since, now: now, policy: .skip)
            #expect(skipped.fires == [now])
            let capped = everySecond.missedFires(since: since, now: now, policy: .all)
            #expect(capped.fires.count == 100)
            #expect(capped.fires.last == now)
            #expect(capped.fires.first == now - 99_000)
            #expect(capped.dropped == seconds - 100)
        }

        @Test("fireCount matches the listed fires for assorted expressions over a year")
        func countsMatchListing() throws {
            let after = utc("2023-12-20T05:17:00Z")
            let through = utc("2025-01-10T00:00:00Z")
            for text in ["0 0 13 * FRI", "@weekly", "0 12 29 2 *", "15 */6 * JAN-MAR,OCT-DEC MON-FRI", "0 0 */2 * MON"]
            {
                for zone in ["UTC", "America/New_York", "Europe/London"] {
                    let schedule = try CronSchedule(text, timeZone: zone)
                    let listed = schedule.fires(after: after, through: through, limit: 10_000)
                    #expect(schedule.fireCount(after: after, through: through) == listed.count, "\(text) in \(zone)")
                }
            }
        }

        @Test("policies parse from their names")
        func names() {
            #expect(CatchUpPolicy(rawValue: "skip") == .skip)
            #expect(CatchUpPolicy(rawValue: "all") == .all)
            #expect(CatchUpPolicy(rawValue: "none") == CatchUpPolicy.none)
            #expect(CatchUpPolicy(rawValue: "run_all") == nil)
        }
    }
}
