/// Moving a wall-clock time to the start of the next unit, or the end of the previous one, for the searches in
/// CronExpression+Search.swift.
extension CivilDateTime {
    /// 00:00:00 on the first day of the next month.
    mutating func startNextMonth() {
        self =
            month == 12
            ? CivilDateTime(year: year + 1, month: 1, day: 1) : CivilDateTime(year: year, month: month + 1, day: 1)
    }

    /// 00:00:00 on the next day.
    mutating func startNextDay() {
        if day < CivilDateTime.daysInMonth(year: year, month: month) {
            self = CivilDateTime(year: year, month: month, day: day + 1)
        } else {
            startNextMonth()
        }
    }

    mutating func startNextHour() {
        if hour < 23 { (hour, minute, second) = (hour + 1, 0, 0) } else { startNextDay() }
    }

    mutating func startNextMinute() {
        if minute < 59 { (minute, second) = (minute + 1, 0) } else { startNextHour() }
    }

    /// 23:59:59 on the last day of this month.
    mutating func endMonth() {
        (day, hour, minute, second) = (CivilDateTime.daysInMonth(year: year, month: month), 23, 59, 59)
    }

    /// 23:59:59 on the last day of the previous month.
    mutating func endPreviousMonth() {
        self =
            month == 1
            ? CivilDateTime(year: year - 1, month: 12, day: 1) : CivilDateTime(year: year, month: month - 1, day: 1)
        endMonth()
    }

    /// 23:59:59 on the previous day.
    mutating func endPreviousDay() {
        if day > 1 {
            self = CivilDateTime(year: year, month: month, day: day - 1, hour: 23, minute: 59, second: 59)
        } else {
            endPreviousMonth()
        }
    }

    mutating func endPreviousHour() {
        if hour > 0 { (hour, minute, second) = (hour - 1, 59, 59) } else { endPreviousDay() }
    }

    mutating func endPreviousMinute() {
        if minute > 0 { (minute, second) = (minute - 1, 59) } else { endPreviousHour() }
    }
}
