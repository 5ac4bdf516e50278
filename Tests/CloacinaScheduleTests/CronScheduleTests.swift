import CloacinaSchedule
import Testing

extension CronTests {
    @Suite("next fire")
    struct ScheduleTests {
        func next(_ expression: String, _ count: Int, after: String) throws -> [String] {
            try nextFires(CronSchedule(expression), after: utc(after), count: count)
        }

        @Test("strictly after: a fire time is not its own next fire; milliseconds are honoured")
        func strictlyAfter() throws {
            let schedule = try CronSchedule("0 * * * *")
            let nine = utc("2024-05-01T09:00:00Z")
            #expect(schedule.nextFire(after: nine - 1) == nine)
            #expect(schedule.nextFire(after: nine) == utc("2024-05-01T10:00:00Z"))
            #expect(schedule.nextFire(after: nine + 999) == utc("2024-05-01T10:00:00Z"))
            #expect(try CronSchedule("* * * * * *").nextFire(after: nine + 1) == nine + 1000)
            // Before 1970 too.
            #expect(schedule.nextFire(after: utc("1969-12-31T22:30:00Z")) == utc("1969-12-31T23:00:00Z"))
        }

        @Test("across the end of a month, of a year, and over months too short for the day")
        func monthAndYearEnds() throws {
            #expect(
                try next("0 0 * * *", 2, after: "2024-01-31T12:00:00Z") == [
                    "2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z",
                ]
            )
            #expect(
                try next("0 0 1 * *", 2, after: "2024-12-15T00:00:00Z") == [
                    "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z",
                ]
            )
            #expect(
                try next("59 23 31 12 *", 2, after: "2024-12-31T23:59:00Z") == [
                    "2025-12-31T23:59:00Z", "2026-12-31T23:59:00Z",
                ]
            )
            #expect(try next("0 0 1 1 *", 1, after: "2024-12-31T23:59:59Z") == ["2025-01-01T00:00:00Z"])
            #expect(
                try next("* * * * *", 2, after: "2024-12-31T23:58:30Z") == [
                    "2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z",
                ]
            )
            // The 31st: January, March, May (February and April have none).
            #expect(
                try next("0 0 31 * *", 3, after: "2024-01-31T00:00:00Z") == [
                    "2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z",
                ]
            )
            #expect(
                try next("0 0 30 * *", 2, after: "2025-01-30T00:00:00Z") == [
                    "2025-03-30T00:00:00Z", "2025-04-30T00:00:00Z",
                ]
            )
        }

        @Test("February 29 only in leap years: 2100 is not one, 2000 was")
        func leapYears() throws {
            #expect(
                try next("0 12 29 2 *", 3, after: "2023-01-01T00:00:00Z") == [
                    "2024-02-29T12:00:00Z", "2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z",
                ]
            )
            #expect(
                try next("0 12 29 2 *", 2, after: "2096-03-01T00:00:00Z") == [
                    "2104-02-29T12:00:00Z", "2108-02-29T12:00:00Z",
                ]
            )
            #expect(try next("0 12 29 2 *", 1, after: "1999-01-01T00:00:00Z") == ["2000-02-29T12:00:00Z"])
            // The day after February 28 is February 29 or March 1.
            #expect(
                try next("0 0 * 2,3 *", 2, after: "2024-02-28T00:00:00Z") == [
                    "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z",
                ]
            )
            #expect(try next("0 0 * 2,3 *", 1, after: "2023-02-28T00:00:00Z") == ["2023-03-01T00:00:00Z"])
            #expect(
                try next("0 0 29-31 * *", 2, after: "2023-02-01T00:00:00Z") == [
                    "2023-03-29T00:00:00Z", "2023-03-30T00:00:00Z",
                ]
            )
        }

        @Test("day-of-month and day-of-week both restricted: either one matching is enough")
        func dayOfMonthOrDayOfWeek() throws {
            // The 13th, and every Friday. September 2024: Fridays 6, 13, 20, 27; October 13 was a Sunday.
            #expect(
                try next("0 0 13 * FRI", 7, after: "2024-09-01T00:00:00Z") == [
                    "2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z",
                    "2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z",
                ]
            )
            // The 1st and 15th, and Mondays, in June 2024 only (June 1 was a Saturday).
            #expect(
                try next("0 0 1,15 6 1", 7, after: "2024-05-01T00:00:00Z") == [
                    "2024-06-01T00:00:00Z", "2024-06-03T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-15T00:00:00Z",
                    "2024-06-17T00:00:00Z", "2024-06-24T00:00:00Z", "2025-06-01T00:00:00Z",
                ]
            )
            // 31 February never happens, but every Monday in February does.
            #expect(
                try next("0 0 31 2 MON", 2, after: "2024-01-01T00:00:00Z") == [
                    "2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z",
                ]
            )
        }

        @Test("a field with a * (even */n) is not restricted: then the other must match as well")
        func wildcardDayFields() throws {
            // Day-of-month only.
            #expect(
                try next("0 0 1,15 * *", 3, after: "2024-01-01T00:00:00Z") == [
                    "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z", "2024-02-15T00:00:00Z",
                ]
            )
            // Day-of-week only.
            #expect(
                try next("0 0 * * WED", 2, after: "2024-01-01T00:00:00Z") == [
                    "2024-01-03T00:00:00Z", "2024-01-10T00:00:00Z",
                ]
            )
            // Odd days that are Mondays (January 2024: the 1st, 15th and 29th).
            #expect(
                try next("0 0 */2 * MON", 4, after: "2023-12-31T00:00:00Z") == [
                    "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z", "2024-01-29T00:00:00Z", "2024-02-05T00:00:00Z",
                ]
            )
            // The 1st to 7th when it is a Sunday-or-Monday... stepped weekdays with a * are not restricted either.
            #expect(
                try next("0 0 1-7 * */7", 2, after: "2024-01-01T00:00:00Z") == [
                    "2024-01-07T00:00:00Z", "2024-02-04T00:00:00Z",
                ]
            )
        }

        @Test("start is inclusive, end is inclusive, nothing after the end")
        func startAndEnd() throws {
            let start = utc("2024-03-01T10:00:00Z")
            let end = utc("2024-03-01T13:00:00Z")
            let schedule = try CronSchedule("0 * * * *", timeZone: "UTC", start: start, end: end)
            #expect(schedule.start == start)
            #expect(schedule.end == end)
            #expect(
                nextFires(schedule, after: 0, count: 10) == [
                    "2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", "2024-03-01T12:00:00Z", "2024-03-01T13:00:00Z",
                ]
            )
            #expect(schedule.nextFire(after: end) == nil)
            #expect(schedule.nextFire(after: end - 1) == end)
            #expect(schedule.nextFire(after: utc("2030-01-01T00:00:00Z")) == nil)
            #expect(schedule.latestFire(atOrBefore: utc("2030-01-01T00:00:00Z")) == end)
            #expect(schedule.latestFire(atOrBefore: start) == start)
            #expect(schedule.latestFire(atOrBefore: start - 1) == nil)

            // A start between fire times, with milliseconds.
            let late = try CronSchedule("* * * * *", start: utc("2024-03-01T10:00:00.500Z"))
            #expect(nextFires(late, after: 0, count: 2) == ["2024-03-01T10:01:00Z", "2024-03-01T10:02:00Z"])
            // An end between fire times.
            let early = try CronSchedule("*/10 * * * *", end: utc("2024-03-01T10:25:00Z"))
            #expect(
                nextFires(early, after: utc("2024-03-01T10:00:00Z"), count: 5) == [
                    "2024-03-01T10:10:00Z", "2024-03-01T10:20:00Z",
                ]
            )
        }

        @Test("fires(after:through:limit:) lists (after, through], capped at the limit")
        func firesInRange() throws {
            let schedule = try CronSchedule("*/15 * * * *")
            let after = utc("2024-03-01T10:00:00Z")
            let through = utc("2024-03-01T11:00:00Z")
            #expect(
                schedule.fires(after: after, through: through, limit: 100).map(utcText) == [
                    "2024-03-01T10:15:00Z", "2024-03-01T10:30:00Z", "2024-03-01T10:45:00Z", "2024-03-01T11:00:00Z",
                ]
            )
            #expect(
                schedule.fires(after: after, through: through, limit: 2).map(utcText) == [
                    "2024-03-01T10:15:00Z", "2024-03-01T10:30:00Z",
                ]
            )
            #expect(schedule.fires(after: after, through: through, limit: 0).isEmpty)
            #expect(schedule.fires(after: through, through: after, limit: 10).isEmpty)
            #expect(schedule.fireCount(after: after, through: through) == 4)
        }

        @Test("latestFire(atOrBefore:) is the mirror of nextFire(after:)")
        func latestFire() throws {
            let schedule = try CronSchedule("30 9 * * MON-FRI", timeZone: "Europe/London")
            // Monday 2024-01-08 09:30 GMT.
            #expect(schedule.latestFire(atOrBefore: utc("2024-01-08T09:30:00Z")) == utc("2024-01-08T09:30:00Z"))
            #expect(schedule.latestFire(atOrBefore: utc("2024-01-08T09:29:59.999Z")) == utc("2024-01-05T09:30:00Z"))
            #expect(schedule.latestFire(atOrBefore: utc("2024-01-01T00:00:00Z")) == utc("2023-12-29T09:30:00Z"))
            // In summer time, 09:30 BST is 08:30 UTC.
            #expect(schedule.latestFire(atOrBefore: utc("2024-07-01T12:00:00Z")) == utc("2024-07-01T08:30:00Z"))
            #expect(
                try CronSchedule("0 0 29 2 *").latestFire(atOrBefore: utc("2104-01-01T00:00:00Z"))
                    == utc("2096-02-29T00:00:00Z")
            )
        }

        @Test("a non-UTC zone reads the expression on its own wall clock")
        func zoneWallClock() throws {
            let tokyo = try CronSchedule("0 9 * * *", timeZone: "Asia/Tokyo")
            #expect(tokyo.timeZoneIdentifier == "Asia/Tokyo")
            #expect(
                nextFires(tokyo, after: utc("2024-01-01T00:00:00Z"), count: 2) == [
                    "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z",
                ]
            )
            let kolkata = try CronSchedule("0 0 1 1 *", timeZone: "Asia/Kolkata")
            #expect(nextFires(kolkata, after: utc("2024-06-01T00:00:00Z"), count: 1) == ["2024-12-31T18:30:00Z"])
        }

        @Test("the edges of the supported span: no fire after the year 9999, none before the year 1, no overflow")
        func extremes() throws {
            // 0001-01-01T00:00:00Z on the proleptic Gregorian calendar (Foundation's formatter would use the Julian
            // calendar before 1582).
            let yearOne: Int64 = -62_135_596_800_000
            let schedule = try CronSchedule("0 0 1 1 *")
            #expect(schedule.nextFire(after: utc("9999-06-01T00:00:00Z")) == nil)
            #expect(schedule.nextFire(after: Int64.max) == nil)
            #expect(schedule.nextFire(after: Int64.min) == yearOne)
            #expect(schedule.latestFire(atOrBefore: Int64.min) == nil)
            #expect(schedule.latestFire(atOrBefore: Int64.max) == utc("9999-01-01T00:00:00Z"))
            #expect(schedule.fireCount(after: Int64.min, through: Int64.max) == 9999)
            let bounded = try CronSchedule("0 0 1 1 *", start: Int64.min, end: Int64.max)
            #expect(bounded.nextFire(after: Int64.min) == yearOne)
        }

        @Test("schedules compare by expression, zone and bounds")
        func equality() throws {
            #expect(
                try CronSchedule("0 0 * * *", timeZone: "Europe/London")
                    == CronSchedule("0 0 * * *", timeZone: "Europe/London")
            )
            #expect(
                try CronSchedule("0 0 * * *", timeZone: "Europe/London")
                    != CronSchedule("0 0 * * *", timeZone: "Europe/Paris")
            )
            #expect(try CronSchedule("0 0 * * *") != CronSchedule("0 0 * * *", end: 0))
        }
    }
}
