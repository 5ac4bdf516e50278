import CloacinaSchedule
import Testing

extension CronTests {
    @Suite("parsing")
    struct ParsingTests {
        /// 2024-01-01 was a Monday.
        let newYear = utc("2024-01-01T00:00:00Z")

        func next(_ expression: String, _ count: Int, after: String = "2024-01-01T00:00:00Z") throws -> [String] {
            try nextFires(CronSchedule(expression), after: utc(after), count: count)
        }

        @Test("five fields fire at second 0; text is kept with white space collapsed")
        func fiveFields() throws {
            let expression = try CronExpression("  5\t4  *  * * ")
            #expect(expression.text == "5 4 * * *")
            #expect(expression.description == "5 4 * * *")
            #expect(!expression.hasSecondsField)
            #expect(try next("5 4 * * *", 2) == ["2024-01-01T04:05:00Z", "2024-01-02T04:05:00Z"])
        }

        @Test("* matches every value")
        func wildcard() throws {
            #expect(
                try next("* * * * *", 3) == ["2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z", "2024-01-01T00:03:00Z"]
            )
        }

        @Test("lists")
        func lists() throws {
            #expect(
                try next("0,20,40 9 * * *", 4) == [
                    "2024-01-01T09:00:00Z", "2024-01-01T09:20:00Z", "2024-01-01T09:40:00Z", "2024-01-02T09:00:00Z",
                ]
            )
            #expect(
                try next("0 0 1 1,7 *", 3) == ["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z", "2025-07-01T00:00:00Z"]
            )
        }

        @Test("ranges, and lists of ranges and values")
        func ranges() throws {
            #expect(
                try next("0 22-23,2 * * *", 4) == [
                    "2024-01-01T02:00:00Z", "2024-01-01T22:00:00Z", "2024-01-01T23:00:00Z", "2024-01-02T02:00:00Z",
                ]
            )
            #expect(
                try next("0 0 30-31 * *", 3) == [
                    "2024-01-30T00:00:00Z", "2024-01-31T00:00:00Z", "2024-03-30T00:00:00Z",
                ]
            )
        }

        @Test("steps: */n, a-b/n and a/n (from a to the end of the field)")
        func steps() throws {
            #expect(
                try next("*/15 0 * * *", 5) == [
                    "2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z", "2024-01-01T00:45:00Z", "2024-01-02T00:00:00Z",
                    "2024-01-02T00:15:00Z",
                ]
            )
            #expect(
                try next("10-30/10 1 * * *", 4) == [
                    "2024-01-01T01:10:00Z", "2024-01-01T01:20:00Z", "2024-01-01T01:30:00Z", "2024-01-02T01:10:00Z",
                ]
            )
            #expect(
                try next("50/5 1 * * *", 3) == ["2024-01-01T01:50:00Z", "2024-01-01T01:55:00Z", "2024-01-02T01:50:00Z"]
            )
            #expect(
                try next("0 0 */10 * *", 4) == [
                    "2024-01-11T00:00:00Z", "2024-01-21T00:00:00Z", "2024-01-31T00:00:00Z", "2024-02-01T00:00:00Z",
                ]
            )
            #expect(
                try next("0 0 1 */5 *", 3) == ["2024-06-01T00:00:00Z", "2024-11-01T00:00:00Z", "2025-01-01T00:00:00Z"]
            )
            // A step as wide as the field selects its first value only.
            #expect(try next("*/60 * * * *", 2) == ["2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"])
        }

        @Test("month names, in any case, alone, in ranges and with steps")
        func monthNames() throws {
            #expect(try next("0 0 1 jan,Jul *", 2) == ["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"])
            #expect(
                try next("0 0 1 MAR-MAY *", 4) == [
                    "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z", "2025-03-01T00:00:00Z",
                ]
            )
            #expect(try next("0 0 1 JAN-DEC/6 *", 2) == ["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"])
            #expect(try next("0 0 1 FEB *", 1) == next("0 0 1 2 *", 1))
        }

        @Test("weekday names, in any case; 0 and 7 are both Sunday")
        func weekdayNames() throws {
            // 2024-01-06 was a Saturday, 2024-01-07 a Sunday.
            let sunday = ["2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"]
            #expect(try next("0 0 * * 0", 2) == sunday)
            #expect(try next("0 0 * * 7", 2) == sunday)
            #expect(try next("0 0 * * sun", 2) == sunday)
            #expect(try next("0 0 * * Sun", 2) == sunday)
            #expect(
                try next("0 0 * * 5-7", 4) == [
                    "2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-12T00:00:00Z",
                ]
            )
            #expect(
                try next("0 9 * * mon-FRI", 6) == [
                    "2024-01-01T09:00:00Z", "2024-01-02T09:00:00Z", "2024-01-03T09:00:00Z", "2024-01-04T09:00:00Z",
                    "2024-01-05T09:00:00Z", "2024-01-08T09:00:00Z",
                ]
            )
            // A range of names may end on Sunday.
            #expect(try next("0 0 * * FRI-SUN", 4) == next("0 0 * * 5-7", 4))
            #expect(try next("0 0 * * mon-sun", 7) == next("0 0 * * *", 7))
            #expect(
                try next("0 0 * * SAT,SUN", 3) == [
                    "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-13T00:00:00Z",
                ]
            )
            #expect(try next("0 0 * * 0-7", 2) == ["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"])
            #expect(
                try next("0 0 * * */2", 3) == ["2024-01-02T00:00:00Z", "2024-01-04T00:00:00Z", "2024-01-06T00:00:00Z"]
            )
        }

        @Test("six fields: the first is seconds")
        func secondsField() throws {
            let expression = try CronExpression("*/20 * * * * *")
            #expect(expression.hasSecondsField)
            #expect(
                try next("*/20 * * * * *", 4) == [
                    "2024-01-01T00:00:20Z", "2024-01-01T00:00:40Z", "2024-01-01T00:01:00Z", "2024-01-01T00:01:20Z",
                ]
            )
            #expect(try next("30 0 12 * * *", 2) == ["2024-01-01T12:00:30Z", "2024-01-02T12:00:30Z"])
            #expect(
                try next("5,10 * * * * *", 3) == [
                    "2024-01-01T00:00:05Z", "2024-01-01T00:00:10Z", "2024-01-01T00:01:05Z",
                ]
            )
            #expect(try next("59 59 23 31 12 *", 1) == ["2024-12-31T23:59:59Z"])
        }

        @Test(
            "macros stand for their five-field expressions, in any case",
            arguments: [
                ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
                ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
                ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"), ("@Hourly", "0 * * * *"),
            ]
        )
        func macros(macro: String, expansion: String) throws {
            #expect(
                try next(macro, 5, after: "2024-02-27T13:30:00Z") == next(expansion, 5, after: "2024-02-27T13:30:00Z")
            )
            #expect(try CronExpression(macro).text == macro.lowercased())
            #expect(try !CronExpression(macro).hasSecondsField)
        }

        @Test("each macro's next fires")
        func macroFires() throws {
            let after = "2024-02-27T13:30:00Z"  // a Tuesday
            #expect(try next("@yearly", 2, after: after) == ["2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"])
            #expect(try next("@monthly", 2, after: after) == ["2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"])
            #expect(try next("@weekly", 2, after: after) == ["2024-03-03T00:00:00Z", "2024-03-10T00:00:00Z"])
            #expect(try next("@daily", 2, after: after) == ["2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"])
            #expect(try next("@hourly", 2, after: after) == ["2024-02-27T14:00:00Z", "2024-02-27T15:00:00Z"])
        }

        @Test("expressions compare by their text")
        func equality() throws {
            #expect(try CronExpression("0 0 * * *") == CronExpression(" 0  0 * * * "))
            #expect(try CronExpression("0 0 * * *") != CronExpression("0 0 * * 0-7"))
            #expect(try CronExpression("@daily") != CronExpression("0 0 * * *"))
        }
    }
}
