import CloacinaSchedule
import Testing

extension CronTests {
    @Suite("errors")
    struct ErrorTests {
        /// One bad expression and the error it must give.
        struct Case: Sendable, CustomTestStringConvertible {
            let text: String
            let code: ScheduleError.Code
            let message: String

            init(_ text: String, _ code: ScheduleError.Code, _ message: String) {
                self.text = text
                self.code = code
                self.message = message
            }

            init(_ text: String, _ message: String) {
                self.init(text, .invalidExpression, message)
            }

            var testDescription: String { "'\(text)'" }
        }

        static let cases: [Case] = [
            // The shape of the expression.
            Case("", "empty cron expression"),
            Case("  \t ", "empty cron expression"),
            Case(
                "1 2 3 4",
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 (with a leading "
                    + "second), got 4 in '1 2 3 4'"
            ),
            Case(
                "1 2 3 4 5 6 7",
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 (with a leading "
                    + "second), got 7 in '1 2 3 4 5 6 7'"
            ),
            // Macros.
            Case(
                "@fortnightly",
                "unknown macro @fortnightly (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
                    + "@hourly)"
            ),
            Case(
                "@reboot",
                "@reboot is not supported: it names no time to fire at (expected @yearly, @annually, @monthly, "
                    + "@weekly, @daily, @midnight or @hourly)"
            ),
            Case("@daily 5", "@daily takes no fields, got '@daily 5'"),
            // Values out of range, in each field.
            Case("61 * * * *", "minute: 61 is out of range 0-59"),
            Case("60 * * * * *", "second: 60 is out of range 0-59"),
            Case("0 24 * * *", "hour: 24 is out of range 0-23"),
            Case("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
            Case("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
            Case("0 0 * 13 *", "month: 13 is out of range 1-12"),
            Case("0 0 * 0 *", "month: 0 is out of range 1-12"),
            Case("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
            Case("0 0-99 * * *", "hour: 99 is out of range 0-23"),
            Case("99999999999999999999 * * * *", "minute: 99999999999999999999 is out of range 0-59"),
            Case("1,2,60 * * * *", "minute: 60 is out of range 0-59"),
            // Tokens that are not numbers or names, or names in the wrong field.
            Case("x * * * *", "minute: x is not a number"),
            Case("JAN * * * *", "minute: JAN is not a number"),
            Case("0 0 * FOO *", "month: FOO is not a number or a month name (JAN-DEC)"),
            Case("0 0 * MON *", "month: MON is not a number or a month name (JAN-DEC)"),
            Case("0 0 * * JAN", "day-of-week: JAN is not a number or a day name (SUN-SAT)"),
            Case("0 0 * * MONDAY", "day-of-week: MONDAY is not a number or a day name (SUN-SAT)"),
            Case("0 0 ? * *", "day-of-month: ? is not a number"),
            Case("+5 * * * *", "minute: +5 is not a number"),
            Case("L * * * *", "minute: L is not a number"),
            // Ranges.
            Case("30-10 * * * *", "minute: range 30-10 runs backwards"),
            Case("0 0 * * FRI-MON", "day-of-week: range FRI-MON runs backwards"),
            Case("0 0 * * 5-0", "day-of-week: range 5-0 runs backwards"),
            Case("5- * * * *", "minute: 5- is not a value or a range a-b"),
            Case("-5 * * * *", "minute: -5 is not a value or a range a-b"),
            Case("1-2-3 * * * *", "minute: 1-2-3 is not a value or a range a-b"),
            Case("0 0 * JAN- *", "month: JAN- is not a value or a range a-b"),
            // Steps.
            Case("*/0 * * * *", "minute: step 0 in */0 is out of range 1-60"),
            Case("*/61 * * * *", "minute: step 61 in */61 is out of range 1-60"),
            Case("0 */25 * * *", "hour: step 25 in */25 is out of range 1-24"),
            Case("0 0 * * */8", "day-of-week: step 8 in */8 is out of range 1-7"),
            Case("*/x * * * *", "minute: step 'x' in */x is not a number"),
            Case("*/ * * * *", "minute: step '' in */ is not a number"),
            Case("*/5/2 * * * *", "minute: */5/2 has more than one step"),
            // Lists.
            Case("1,,2 * * * *", "minute: empty list item in 1,,2"),
            Case("1, * * * *", "minute: empty list item in 1,"),
            Case("0 0 ,1 * *", "day-of-month: empty list item in ,1"),
            // Never fires.
            Case("0 0 30 2 *", .neverFires, "'0 0 30 2 *' never fires: day-of-month 30 never falls in month 2"),
            Case(
                "0 0 31 4,6,9,11 *",
                .neverFires,
                "'0 0 31 4,6,9,11 *' never fires: day-of-month 31 never falls in month 4,6,9,11"
            ),
            Case(
                "0 0 0 31 FEB *",
                .neverFires,
                "'0 0 0 31 FEB *' never fires: day-of-month 31 never falls in month FEB"
            ),
        ]

        @Test("a bad expression throws a message naming the field and the token", arguments: cases)
        func rejected(_ badCase: Case) {
            #expect {
                try CronExpression(badCase.text)
            } throws: { error in
                guard let error = error as? ScheduleError else { return false }
                #expect(error.message == badCase.message)
                #expect(error.description == badCase.message)
                #expect(error.code == badCase.code)
                return true
            }
        }

        @Test("the schedule initializer from text throws the same")
        func scheduleFromText() {
            #expect(throws: ScheduleError(.invalidExpression, "minute: 61 is out of range 0-59")) {
                try CronSchedule("61 * * * *", timeZone: "Europe/London")
            }
        }

        @Test("rarely firing expressions are accepted, not taken for never firing")
        func rareButPossible() throws {
            // Only in leap years.
            _ = try CronExpression("0 0 29 2 *")
            // The 29th of February when it is a Sunday (every 28 years, or 40 across 2100): day-of-week has a `*`,
            // so both fields must match.
            let sundayLeapDay = try CronSchedule("0 0 29 2 */7")
            #expect(
                nextFires(sundayLeapDay, after: utc("2000-01-01T00:00:00Z"), count: 4) == [
                    "2004-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z", "2088-02-29T00:00:00Z",
                ]
            )
            #expect(nextFires(sundayLeapDay, after: utc("2088-03-01T00:00:00Z"), count: 1) == ["2128-02-29T00:00:00Z"])
            // Day 31 or any Monday in February: both restricted, so Mondays alone make it fire.
            _ = try CronExpression("0 0 31 2 MON")
        }

        @Test("an unknown time zone is named")
        func unknownZone() {
            for zone in ["Mars/Olympus", "", "america/new_york", "Europe/Londn"] {
                #expect(
                    throws: ScheduleError(
                        .unknownTimeZone,
                        "unknown time zone '\(zone)' (expected an IANA identifier such as Europe/London or UTC)"
                    )
                ) {
                    try CronSchedule("0 0 * * *", timeZone: zone)
                }
            }
        }

        @Test("an end before the start is refused with both dates")
        func endBeforeStart() throws {
            #expect(
                throws: ScheduleError(
                    .invalidBounds,
                    "end 2024-01-01T00:00:00Z is before start 2024-02-01T00:00:00.250Z"
                )
            ) {
                try CronSchedule(
                    "0 0 * * *",
                    timeZone: "UTC",
                    start: utc("2024-02-01T00:00:00.250Z"),
                    end: utc("2024-01-01T00:00:00Z")
                )
            }
            // Equal bounds are one possible instant, not an error.
            let single = try CronSchedule(
                "0 0 * * *",
                start: utc("2024-01-01T00:00:00Z"),
                end: utc("2024-01-01T00:00:00Z")
            )
            #expect(nextFires(single, after: 0, count: 3) == ["2024-01-01T00:00:00Z"])
        }

        @Test("error codes describe themselves")
        func codes() {
            #expect(ScheduleError.Code.invalidExpression.description == "invalid expression")
            #expect(ScheduleError.Code.neverFires.description == "never fires")
            #expect(ScheduleError.Code.unknownTimeZone.description == "unknown time zone")
            #expect(ScheduleError.Code.invalidBounds.description == "invalid bounds")
        }
    }
}
