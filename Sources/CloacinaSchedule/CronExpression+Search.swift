extension CronExpression {
    /// How far a search looks: the Gregorian calendar repeats every 400 years, so nothing found in 401 years from
    /// anywhere means nothing is ever found.
    static let searchYears: Int64 = 401

    /// The first matching wall-clock time at or after `local` (local seconds, see ``CivilDateTime``), jumping field
    /// by field: months, then days, hours, minutes, seconds. Nil only when nothing matches within ``searchYears``.
    func nextMatch(atOrAfter local: Int64) -> Int64? {
        var time = CivilDateTime(localSeconds: local)
        let lastYear = time.year + Self.searchYears
        while time.year <= lastYear {
            guard let month = months.next(atOrAfter: time.month) else {
                time = CivilDateTime(year: time.year + 1, month: 1, day: 1)
                continue
            }
            if month != time.month { time = CivilDateTime(year: time.year, month: month, day: 1) }
            guard let day = nextDay(year: time.year, month: time.month, atOrAfter: time.day) else {
                time.startNextMonth()
                continue
            }
            if day != time.day { time = CivilDateTime(year: time.year, month: time.month, day: day) }
            guard let hour = hours.next(atOrAfter: time.hour) else {
                time.startNextDay()
                continue
            }
            if hour != time.hour { (time.hour, time.minute, time.second) = (hour, 0, 0) }
            guard let minute = minutes.next(atOrAfter: time.minute) else {
                time.startNextHour()
                continue
            }
            if minute != time.minute { (time.minute, time.second) = (minute, 0) }
            guard let second = seconds.next(atOrAfter: time.second) else {
                time.startNextMinute()
                continue
            }
            time.second = second
            return time.localSeconds
        }
        return nil
    }

    /// The last matching wall-clock time at or before `local`; the mirror image of ``nextMatch(atOrAfter:)``.
    func previousMatch(atOrBefore local: Int64) -> Int64? {
        var time = CivilDateTime(localSeconds: local)
        let firstYear = time.year - Self.searchYears
        while time.year >= firstYear {
            guard let month = months.previous(atOrBefore: time.month) else {
                time = CivilDateTime(year: time.year - 1, month: 12, day: 31, hour: 23, minute: 59, second: 59)
                continue
            }
            if month != time.month {
                time = CivilDateTime(year: time.year, month: month, day: 1)
                time.endMonth()
            }
            guard let day = previousDay(year: time.year, month: time.month, atOrBefore: time.day) else {
                time.endPreviousMonth()
                continue
            }
            if day != time.day {
                time = CivilDateTime(year: time.year, month: time.month, day: day, hour: 23, minute: 59, second: 59)
            }
            guard let hour = hours.previous(atOrBefore: time.hour) else {
                time.endPreviousDay()
                continue
            }
            if hour != time.hour { (time.hour, time.minute, time.second) = (hour, 59, 59) }
            guard let minute = minutes.previous(atOrBefore: time.minute) else {
                time.endPreviousHour()
                continue
            }
            if minute != time.minute { (time.minute, time.second) = (minute, 59) }
            guard let second = seconds.previous(atOrBefore: time.second) else {
                time.endPreviousMinute()
                continue
            }
            time.second = second
            return time.localSeconds
        }
        return nil
    }

    /// How many wall-clock times in `from...through` (local seconds) match, counted day by day with arithmetic
    /// within each day.
    func matchCount(from: Int64, through: Int64) -> Int64 {
        guard from <= through else { return 0 }
        let firstDay = from.floorDivided(by: 86_400)
        let lastDay = through.floorDivided(by: 86_400)
        var (year, month, day) = CivilDateTime.date(fromDays: firstDay)
        var days = firstDay
        var total: Int64 = 0
        while days <= lastDay {
            let monthLength = CivilDateTime.daysInMonth(year: year, month: month)
            if !months.contains(month) {
                // Jump to the first day of the next month.
                days += Int64(monthLength - day + 1)
                (year, month, day) = month == 12 ? (year + 1, 1, 1) : (year, month + 1, 1)
                continue
            }
            if dayMatches(year: year, month: month, day: day) {
                let start = days == firstDay ? Int(from - days * 86_400) : 0
                let end = days == lastDay ? Int(through - days * 86_400) : 86_399
                total += timesOfDay(atOrAfter: start) - timesOfDay(atOrAfter: end + 1)
            }
            days += 1
            if day < monthLength {
                day += 1
            } else {
                (year, month, day) = month == 12 ? (year + 1, 1, 1) : (year, month + 1, 1)
            }
        }
        return total
    }

    /// Whether the date passes the day-of-month and day-of-week fields (months are checked by the caller).
    func dayMatches(year: Int64, month: Int, day: Int) -> Bool {
        let weekday = CivilDateTime.weekday(year: year, month: month, day: day)
        return dayMatches(day: day, weekday: weekday)
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let byDayOfMonth = daysOfMonth.contains(day)
        let byDayOfWeek = daysOfWeek.contains(weekday)
        if !dayOfMonthIsWildcard && !dayOfWeekIsWildcard { return byDayOfMonth || byDayOfWeek }
        return byDayOfMonth && byDayOfWeek
    }

    /// How many matching (hour, minute, second) triples fall at or after `secondOfDay` within one day.
    private func timesOfDay(atOrAfter secondOfDay: Int) -> Int64 {
        guard secondOfDay < 86_400 else { return 0 }
        let (hour, minute, second) = (secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
        let secondCount = Int64(seconds.count)
        var count = Int64(hours.count(atOrAfter: hour + 1)) * Int64(minutes.count) * secondCount
        if hours.contains(hour) {
            count += Int64(minutes.count(atOrAfter: minute + 1)) * secondCount
            if minutes.contains(minute) { count += Int64(seconds.count(atOrAfter: second)) }
        }
        return count
    }

    /// The first matching day of the month at or after `day`.
    private func nextDay(year: Int64, month: Int, atOrAfter day: Int) -> Int? {
        let monthLength = CivilDateTime.daysInMonth(year: year, month: month)
        var candidate = day
        var weekday = CivilDateTime.weekday(year: year, month: month, day: day)
        while candidate <= monthLength {
            if dayMatches(day: candidate, weekday: weekday) { return candidate }
            candidate += 1
            weekday = (weekday + 1) % 7
        }
        return nil
    }

    /// The last matching day of the month at or before `day`.
    private func previousDay(year: Int64, month: Int, atOrBefore day: Int) -> Int? {
        var candidate = min(day, CivilDateTime.daysInMonth(year: year, month: month))
        var weekday = CivilDateTime.weekday(year: year, month: month, day: candidate)
        while candidate >= 1 {
            if dayMatches(day: candidate, weekday: weekday) { return candidate }
            candidate -= 1
            weekday = (weekday + 6) % 7
        }
        return nil
    }
}
