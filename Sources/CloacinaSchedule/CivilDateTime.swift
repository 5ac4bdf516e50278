/// A date and time of day on the proleptic Gregorian calendar, with no time zone: what a wall clock shows.
///
/// Cron fields are matched against these. Converts to and from "local seconds" (seconds since 1970-01-01 00:00:00
/// on the same wall clock), which is how the zone-independent search moves through time. It does not know about
/// time zones or daylight saving time; ``ZoneRules`` maps local seconds to instants.
struct CivilDateTime: Sendable, Hashable {
    var year: Int64
    /// 1-12.
    var month: Int
    /// 1-31.
    var day: Int
    /// 0-23.
    var hour: Int
    /// 0-59.
    var minute: Int
    /// 0-59.
    var second: Int

    init(year: Int64, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The wall-clock time `localSeconds` seconds after 1970-01-01 00:00:00.
    init(localSeconds: Int64) {
        let days = localSeconds.floorDivided(by: 86_400)
        let secondOfDay = Int(localSeconds - days * 86_400)
        let (year, month, day) = CivilDateTime.date(fromDays: days)
        self.init(
            year: year,
            month: month,
            day: day,
            hour: secondOfDay / 3600,
            minute: secondOfDay / 60 % 60,
            second: secondOfDay % 60
        )
    }

    /// Seconds since 1970-01-01 00:00:00 on the same wall clock.
    var localSeconds: Int64 {
        CivilDateTime.days(year: year, month: month, day: day) * 86_400 + Int64(secondOfDay)
    }

    var secondOfDay: Int { hour * 3600 + minute * 60 + second }

    /// 0 is Sunday, 6 is Saturday.
    var weekday: Int { CivilDateTime.weekday(year: year, month: month, day: day) }

    /// `2024-03-10T07:00:00` (with a `Z` appended by callers that format instants).
    var iso8601: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let yearText = year < 0 ? "-" + pad(Int(-year), 4) : pad(Int(year), 4)
        return "\(yearText)-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
    }

    static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int64, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the date (Howard Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func date(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func weekday(year: Int64, month: Int, day: Int) -> Int {
        // 1970-01-01 was a Thursday.
        Int((days(year: year, month: month, day: day) + 4).floorModulo(7))
    }
}

extension Int64 {
    /// The quotient rounded towards negative infinity.
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// The remainder with the divisor's sign.
    func floorModulo(_ divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder != 0 && (remainder < 0) != (divisor < 0) ? remainder + divisor : remainder
    }
}
