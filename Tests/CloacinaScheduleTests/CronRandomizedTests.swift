import CloacinaSchedule
import Foundation
import Testing

extension CronTests {
    /// Random expressions (from a fixed seed), each built together with the values its fields select, checked in
    /// UTC against a plain enumeration of matching days and times.
    @Suite("randomized")
    struct RandomizedTests {
        /// SplitMix64: small, fast, and the same on every run.
        struct Generator: RandomNumberGenerator {
            var state: UInt64

            mutating func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }

        /// One field written out: its text, the values it selects, whether it contains a `*`.
        struct Field {
            var text: String
            var values: Set<Int>
            var wildcard: Bool
        }

        static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        /// 7 is written as a number: `SUN` is 0 (except at the end of a range, see the parsing tests).
        static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "7"]

        /// A random field over `range` (`span` values for `*`); `sparse` keeps it to a few values.
        static func field(
            _ range: ClosedRange<Int>,
            wildcardRange: ClosedRange<Int>? = nil,
            sparse: Bool = false,
            names: [String]? = nil,
            using generator: inout Generator
        ) -> Field {
            let all = wildcardRange ?? range
            // Each value written as a number, or as a name in upper or lower case.
            let spellings = range.map { value -> String in
                guard let names, Bool.random(using: &generator) else { return String(value) }
                let text = names[value - range.lowerBound]
                return Bool.random(using: &generator) ? text : text.lowercased()
            }
            func name(_ value: Int) -> String { spellings[value - range.lowerBound] }
            let kind = sparse ? Int.random(in: 3...5, using: &generator) : Int.random(in: 0...5, using: &generator)
            switch kind {
            case 0:
                return Field(text: "*", values: Set(all), wildcard: true)
            case 1:
                let step = Int.random(in: 2...all.count, using: &generator)
                return Field(
                    text: "*/\(step)",
                    values: Set(stride(from: all.lowerBound, through: all.upperBound, by: step)),
                    wildcard: true
                )
            case 2, 3:
                let low = Int.random(in: range, using: &generator)
                let high = Int.random(in: low...range.upperBound, using: &generator)
                if kind == 2 {
                    return Field(text: "\(name(low))-\(name(high))", values: Set(low...high), wildcard: false)
                }
                let step = Int.random(in: max(2, sparse ? (high - low) / 3 : 2)...max(2, all.count), using: &generator)
                return Field(
                    text: "\(name(low))-\(name(high))/\(step)",
                    values: Set(stride(from: low, through: high, by: step)),
                    wildcard: false
                )
            case 4:
                let values = (0..<Int.random(in: 2...3, using: &generator)).map { _ in
                    Int.random(in: range, using: &generator)
                }
                return Field(text: values.map(name).joined(separator: ","), values: Set(values), wildcard: false)
            default:
                let value = Int.random(in: range, using: &generator)
                return Field(text: name(value), values: [value], wildcard: false)
            }
        }

        @Test("fire times, latest fires and counts agree with a plain enumeration", arguments: 0..<200)
        func agreesWithEnumeration(seed: Int) throws {
            var generator = Generator(state: UInt64(seed) &* 7919)
            let withSeconds = Int.random(in: 0..<3, using: &generator) == 0
            let second = Self.field(0...59, sparse: true, using: &generator)
            let minute = Self.field(0...59, sparse: true, using: &generator)
            let hour = Self.field(0...23, using: &generator)
            let dayOfMonth = Self.field(1...31, using: &generator)
            let month = Self.field(1...12, names: Self.monthNames, using: &generator)
            var dayOfWeek = Self.field(0...7, wildcardRange: 0...6, names: Self.dayNames, using: &generator)
            if dayOfWeek.values.contains(7) { dayOfWeek.values.insert(0) }
            let fields = (withSeconds ? [second] : []) + [minute, hour, dayOfMonth, month, dayOfWeek]
            let text = fields.map(\.text).joined(separator: " ")
            let seconds = withSeconds ? second.values : [0]

            let parsed = Result { () throws(ScheduleError) in try CronSchedule(text) }
            if case .failure(let error) = parsed, error.code == .neverFires {
                // Only a day-of-month that no allowed month has, with day-of-week not restricted, can do that.
                let lengths = [1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31]
                let longest = month.values.map { lengths[$0]! }.max()!
                #expect(dayOfMonth.values.allSatisfy { $0 > longest }, "\(text)")
                #expect(dayOfMonth.wildcard || dayOfWeek.wildcard, "\(text)")
                return
            }
            let schedule = try parsed.get()

            // The plain enumeration: every day of 75 from ten days before the start of one of the expression's
            // months, in a leap year, a common year or 2100 (not a leap year).
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let year = [2024, 2025, 2100].randomElement(using: &generator)!
            // Sorted: a set's order differs from process to process, and a seed must name one case.
            let start = month.values.sorted().randomElement(using: &generator)!
            let firstOfMonth = DateComponents(year: year, month: start, day: 1)
            let after = Int64(calendar.date(from: firstOfMonth)!.timeIntervalSince1970 * 1000) - 10 * 86_400_000
            let through = after + 75 * 86_400_000
            var expected: [Int64] = []
            var midnight = after
            // Through `through` itself: the window is (after, through], and a fire at its last midnight counts.
            while midnight <= through {
                let date = calendar.dateComponents(
                    [.month, .day, .weekday],
                    from: Date(timeIntervalSince1970: Double(midnight) / 1000)
                )
                let byDay = dayOfMonth.values.contains(date.day!)
                let byWeekday = dayOfWeek.values.contains(date.weekday! - 1)
                let dayMatches = !dayOfMonth.wildcard && !dayOfWeek.wildcard ? byDay || byWeekday : byDay && byWeekday
                if month.values.contains(date.month!) && dayMatches {
                    for h in hour.values.sorted() {
                        for m in minute.values.sorted() {
                            for s in seconds.sorted() {
                                expected.append(midnight + Int64(h * 3600 + m * 60 + s) * 1000)
                            }
                        }
                    }
                }
                midnight += 86_400_000
            }
            expected = expected.filter { $0 > after && $0 <= through }

            let actual = schedule.fires(after: after, through: through, limit: 100_000)
            #expect(actual == expected, "\(text)")
            #expect(schedule.fireCount(after: after, through: through) == expected.count, "\(text)")
            if let last = expected.last {
                #expect(schedule.latestFire(atOrBefore: through) == last, "\(text)")
            }
            for index in stride(from: 1, to: expected.count, by: max(1, expected.count / 50)) {
                #expect(schedule.latestFire(atOrBefore: expected[index] - 1) == expected[index - 1], "\(text)")
            }
        }
    }
}
