import CloacinaSchedule
import Foundation
import Testing

extension CronTests {
    /// 2024 changes: America/New_York goes forward on March 10 at 02:00 EST (07:00Z) and back on November 3 at
    /// 02:00 EDT (06:00Z); Europe/London forward on March 31 at 01:00 GMT (01:00Z) and back on October 27 at 02:00
    /// BST (01:00Z).
    @Suite("daylight saving time")
    struct DaylightSavingTests {
        func local(_ expression: String, _ zone: String, after: String, count: Int) throws -> [String] {
            let schedule = try CronSchedule(expression, timeZone: zone)
            return schedule.fires(after: utc(after), through: Int64.max, limit: count).map { localText($0, zone) }
        }

        @Test("New York, clocks forward: 02:30 does not exist and fires once at 03:00 EDT")
        func newYorkGap() throws {
            #expect(
                try local("30 2 * * *", "America/New_York", after: "2024-03-09T00:00:00Z", count: 3) == [
                    "2024-03-09 02:30:00 -05:00", "2024-03-10 03:00:00 -04:00", "2024-03-11 02:30:00 -04:00",
                ]
            )
            // Every matching time in the gap, and 03:00 itself, fire together, once.
            #expect(
                try local("*/30 * * * *", "America/New_York", after: "2024-03-10T06:00:00Z", count: 3) == [
                    "2024-03-10 01:30:00 -05:00", "2024-03-10 03:00:00 -04:00", "2024-03-10 03:30:00 -04:00",
                ]
            )
            #expect(
                try local("0,15,30,45 2 * * *", "America/New_York", after: "2024-03-10T05:00:00Z", count: 2) == [
                    "2024-03-10 03:00:00 -04:00", "2024-03-11 02:00:00 -04:00",
                ]
            )
            #expect(
                try local("0 * * * *", "America/New_York", after: "2024-03-10T05:30:00Z", count: 3) == [
                    "2024-03-10 01:00:00 -05:00", "2024-03-10 03:00:00 -04:00", "2024-03-10 04:00:00 -04:00",
                ]
            )
        }

        @Test("New York, clocks back: 01:30 happens twice and fires once, at its first occurrence (EDT)")
        func newYorkOverlap() throws {
            #expect(
                try local("30 1 * * *", "America/New_York", after: "2024-11-02T00:00:00Z", count: 3) == [
                    "2024-11-02 01:30:00 -04:00", "2024-11-03 01:30:00 -04:00", "2024-11-04 01:30:00 -05:00",
                ]
            )
            #expect(
                try local("*/30 * * * *", "America/New_York", after: "2024-11-03T04:00:00Z", count: 5) == [
                    "2024-11-03 00:30:00 -04:00", "2024-11-03 01:00:00 -04:00", "2024-11-03 01:30:00 -04:00",
                    "2024-11-03 02:00:00 -05:00", "2024-11-03 02:30:00 -05:00",
                ]
            )
            #expect(
                try local("0 * * * *", "America/New_York", after: "2024-11-03T04:30:00Z", count: 2) == [
                    "2024-11-03 01:00:00 -04:00", "2024-11-03 02:00:00 -05:00",
                ]
            )
        }

        @Test("asked from inside the repeated hour, the times already shown once are not fired again")
        func insideTheRepeatedHour() throws {
            let schedule = try CronSchedule("*/30 * * * *", timeZone: "America/New_York")
            // 01:15 EST, the second 01:15 of the night.
            #expect(
                localText(schedule.nextFire(after: utc("2024-11-03T06:15:00Z")), "America/New_York")
                    == "2024-11-03 02:00:00 -05:00"
            )
            // 01:45 EDT, the first one.
            #expect(
                localText(schedule.nextFire(after: utc("2024-11-03T05:45:00Z")), "America/New_York")
                    == "2024-11-03 02:00:00 -05:00"
            )
            // The latest fire at 01:45 EST is 01:30 EDT, an hour and a quarter earlier.
            #expect(
                localText(schedule.latestFire(atOrBefore: utc("2024-11-03T06:45:00Z")), "America/New_York")
                    == "2024-11-03 01:30:00 -04:00"
            )
            #expect(schedule.fireCount(after: utc("2024-11-03T04:00:00Z"), through: utc("2024-11-03T08:00:00Z")) == 6)
        }

        @Test("London, clocks forward: 01:30 and 01:00 do not exist and fire once at 02:00 BST")
        func londonGap() throws {
            #expect(
                try local("30 1 * * *", "Europe/London", after: "2024-03-30T00:00:00Z", count: 3) == [
                    "2024-03-30 01:30:00 +00:00", "2024-03-31 02:00:00 +01:00", "2024-04-01 01:30:00 +01:00",
                ]
            )
            #expect(
                try local("0 1 * * *", "Europe/London", after: "2024-03-31T00:00:00Z", count: 2) == [
                    "2024-03-31 02:00:00 +01:00", "2024-04-01 01:00:00 +01:00",
                ]
            )
            // With seconds: 01:30:00, 01:30:20 and 01:30:40 all fall in the gap; one fire.
            #expect(
                try local("*/20 30 1 * * *", "Europe/London", after: "2024-03-31T00:00:00Z", count: 2) == [
                    "2024-03-31 02:00:00 +01:00", "2024-04-01 01:30:00 +01:00",
                ]
            )
        }

        @Test("London, clocks back: 01:30 and 01:00 happen twice and fire once, in summer time")
        func londonOverlap() throws {
            #expect(
                try local("30 1 * * *", "Europe/London", after: "2024-10-26T00:00:00Z", count: 3) == [
                    "2024-10-26 01:30:00 +01:00", "2024-10-27 01:30:00 +01:00", "2024-10-28 01:30:00 +00:00",
                ]
            )
            #expect(
                try local("0 1 * * *", "Europe/London", after: "2024-10-26T23:30:00Z", count: 2) == [
                    "2024-10-27 01:00:00 +01:00", "2024-10-28 01:00:00 +00:00",
                ]
            )
            #expect(
                try local("0 * * * *", "Europe/London", after: "2024-10-26T23:30:00Z", count: 3) == [
                    "2024-10-27 01:00:00 +01:00", "2024-10-27 02:00:00 +00:00", "2024-10-27 03:00:00 +00:00",
                ]
            )
        }

        @Test("Samoa skipped the whole of 2011-12-30: its times fire once, when the day after begins")
        func skippedDay() throws {
            #expect(
                try local("0 12 * * *", "Pacific/Apia", after: "2011-12-29T00:00:00Z", count: 3) == [
                    "2011-12-29 12:00:00 -10:00", "2011-12-31 00:00:00 +14:00", "2011-12-31 12:00:00 +14:00",
                ]
            )
            #expect(
                try local("0 * * * *", "Pacific/Apia", after: "2011-12-30T08:30:00Z", count: 3) == [
                    "2011-12-29 23:00:00 -10:00", "2011-12-31 00:00:00 +14:00", "2011-12-31 01:00:00 +14:00",
                ]
            )
            let hourly = try CronSchedule("0 * * * *", timeZone: "Pacific/Apia")
            #expect(hourly.fireCount(after: utc("2011-12-30T08:30:00Z"), through: utc("2011-12-30T11:00:00Z")) == 3)
        }

        /// One offset change, to look at from either side.
        struct Window: Sendable, CustomTestStringConvertible {
            let zone: String
            let change: Int64

            var testDescription: String { "\(zone) \(utcText(change * 1000))" }

            /// Both of the zone's changes in 2024.
            static func changes(in zone: String) -> [Window] {
                let timeZone = TimeZone(identifier: zone)!
                let first = timeZone.nextDaylightSavingTimeTransition(
                    after: Date(timeIntervalSince1970: 1_704_067_200)
                )!
                let second = timeZone.nextDaylightSavingTimeTransition(after: first)!
                return [first, second].map { Window(zone: zone, change: Int64($0.timeIntervalSince1970)) }
            }

            static let all = ["America/New_York", "Europe/London", "Australia/Lord_Howe"].flatMap(changes)
        }

        /// An expression and the same as a predicate over the wall clock (month, day, weekday, hour, minute,
        /// second).
        struct Expression: Sendable, CustomTestStringConvertible {
            let text: String
            let matches: @Sendable (Int, Int, Int, Int, Int, Int) -> Bool

            var testDescription: String { text }

            static let all: [Expression] = [
                Expression(text: "* * * * *") { _, _, _, _, _, _ in true },
                Expression(text: "*/15 * * * *") { _, _, _, _, minute, _ in minute % 15 == 0 },
                Expression(text: "0 * * * *") { _, _, _, _, minute, _ in minute == 0 },
                Expression(text: "30 1,2 * * *") { _, _, _, hour, minute, _ in minute == 30 && (hour == 1 || hour == 2)
                },
                Expression(text: "0,30 0-3 * * SUN") { _, _, weekday, hour, minute, _ in
                    weekday == 0 && hour <= 3 && minute % 30 == 0
                },
                Expression(text: "45 1 * * *") { _, _, _, hour, minute, _ in hour == 1 && minute == 45 },
                Expression(text: "0 2 * * *") { _, _, _, hour, minute, _ in hour == 2 && minute == 0 },
                Expression(text: "5 3 * * *") { _, _, _, hour, minute, _ in hour == 3 && minute == 5 },
                Expression(text: "59 0 * * *") { _, _, _, hour, minute, _ in hour == 0 && minute == 59 },
                Expression(text: "0 0 * * *") { _, _, _, hour, minute, _ in hour == 0 && minute == 0 },
                Expression(text: "10-40/10 1-2 * * *") { _, _, _, hour, minute, _ in
                    (1...2).contains(hour) && [10, 20, 30, 40].contains(minute)
                },
            ]
        }

        @Test(
            "fire times, counts and latest fires agree with a minute-by-minute search over a day around each change",
            arguments: Window.all,
            Expression.all
        )
        func agreesWithBruteForce(window: Window, expression: Expression) throws {
            let after = (window.change - 12 * 3600) * 1000
            let through = (window.change + 12 * 3600) * 1000
            let expected = bruteForceFires(
                zone: window.zone,
                after: after,
                through: through,
                matches: expression.matches
            )
            try check(
                CronSchedule(expression.text, timeZone: window.zone),
                after: after,
                through: through,
                expected: expected
            )
        }

        @Test(
            "with a seconds field, agrees with a second-by-second search over four hours around each change",
            arguments: Window.all,
            [
                Expression(text: "*/10 * 1-2 * * *") { _, _, _, hour, _, second in
                    (1...2).contains(hour) && second % 10 == 0
                },
                Expression(text: "30 30 1 * * *") { _, _, _, hour, minute, second in
                    hour == 1 && minute == 30 && second == 30
                },
                Expression(text: "0 0 2 * * *") { _, _, _, hour, minute, second in
                    hour == 2 && minute == 0 && second == 0
                },
            ]
        )
        func secondsAgreeWithBruteForce(window: Window, expression: Expression) throws {
            let after = (window.change - 2 * 3600) * 1000
            let through = (window.change + 2 * 3600) * 1000
            let expected = bruteForceFires(
                zone: window.zone,
                after: after,
                through: through,
                step: 1,
                matches: expression.matches
            )
            try check(
                CronSchedule(expression.text, timeZone: window.zone),
                after: after,
                through: through,
                expected: expected
            )
        }

        private func check(_ schedule: CronSchedule, after: Int64, through: Int64, expected: [Int64]) {
            let zone = schedule.timeZoneIdentifier
            let actual = schedule.fires(after: after, through: through, limit: 100_000)
            #expect(
                actual == expected,
                "got \(actual.map { localText($0, zone) }), expected \(expected.map { localText($0, zone) })"
            )
            #expect(schedule.fireCount(after: after, through: through) == expected.count)
            // Each fire's predecessor, from the other direction.
            for (index, fire) in expected.enumerated() {
                #expect(schedule.latestFire(atOrBefore: fire) == fire)
                if index > 0 { #expect(schedule.latestFire(atOrBefore: fire - 1) == expected[index - 1]) }
            }
            // From instants that are not fire times, including ones inside the changes.
            var probe = after
            var later = 0  // expected[later...] are the fires after probe
            while probe < through {
                while later < expected.count && expected[later] <= probe { later += 1 }
                if later < expected.count { #expect(schedule.nextFire(after: probe) == expected[later]) }
                #expect(schedule.fireCount(after: probe, through: through) == expected.count - later)
                probe += 7 * 60_000 + 13_000
            }
        }
    }
}
