/// One of the six positions of a cron expression: its name in messages, the values it accepts and the names it
/// knows.
///
/// Parsing only; matching works on ``CronValueSet``s.
enum CronField: Sendable {
    case second, minute, hour, dayOfMonth, month, dayOfWeek

    /// The name used in error messages: `minute: 61 is out of range 0-59`.
    var name: String {
        switch self {
        case .second: return "second"
        case .minute: return "minute"
        case .hour: return "hour"
        case .dayOfMonth: return "day-of-month"
        case .month: return "month"
        case .dayOfWeek: return "day-of-week"
        }
    }

    /// The values a token may name. Day-of-week accepts 7 as a second Sunday.
    var bounds: ClosedRange<Int> {
        switch self {
        case .second, .minute: return 0...59
        case .hour: return 0...23
        case .dayOfMonth: return 1...31
        case .month: return 1...12
        case .dayOfWeek: return 0...7
        }
    }

    /// The values `*` stands for (day-of-week: 0-6, so `*/2` does not count Sunday twice).
    var wildcardRange: ClosedRange<Int> {
        self == .dayOfWeek ? 0...6 : bounds
    }

    /// The largest step that still selects something beyond the first value: the number of distinct values.
    var maximumStep: Int { wildcardRange.count }

    /// Names accepted in place of numbers, upper-cased, with their values.
    var names: [String: Int] {
        switch self {
        case .month:
            return [
                "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
                "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
            ]
        case .dayOfWeek:
            return ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
        default:
            return [:]
        }
    }

    /// What a token should have been, for "is not a number" messages.
    var expectedValue: String {
        switch self {
        case .month: return "a number or a month name (JAN-DEC)"
        case .dayOfWeek: return "a number or a day name (SUN-SAT)"
        default: return "a number"
        }
    }
}
