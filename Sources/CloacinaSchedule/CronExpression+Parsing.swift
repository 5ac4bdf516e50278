extension CronExpression {
    /// The macros and the five-field expressions they stand for.
    static let macros: KeyValuePairs<String, String> = [
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    ]

    /// Parses `text`; throws a ``ScheduleError`` naming the field and token that are wrong, or saying that the
    /// expression never fires.
    public init(_ text: String) throws(ScheduleError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard let first = words.first else {
            throw ScheduleError(.invalidExpression, "empty cron expression")
        }
        let normalized = words.joined(separator: " ")
        var fields = words
        if first.hasPrefix("@") {
            let macro = first.lowercased()
            guard words.count == 1 else {
                throw ScheduleError(.invalidExpression, "\(first) takes no fields, got '\(normalized)'")
            }
            guard let expansion = Self.macros.first(where: { $0.key == macro })?.value else {
                let known = "expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
                if macro == "@reboot" {
                    throw ScheduleError(
                        .invalidExpression,
                        "@reboot is not supported: it names no time to fire at (\(known))"
                    )
                }
                throw ScheduleError(.invalidExpression, "unknown macro \(first) (\(known))")
            }
            fields = expansion.split(separator: " ")
            self.text = macro
        } else {
            guard words.count == 5 || words.count == 6 else {
                throw ScheduleError(
                    .invalidExpression,
                    "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 (with a leading "
                        + "second), got \(words.count) in '\(normalized)'"
                )
            }
            self.text = normalized
        }

        hasSecondsField = fields.count == 6
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try Self.parse(fields[0], as: .second)
        minutes = try Self.parse(fields[1], as: .minute)
        hours = try Self.parse(fields[2], as: .hour)
        daysOfMonth = try Self.parse(fields[3], as: .dayOfMonth)
        months = try Self.parse(fields[4], as: .month)
        daysOfWeek = try Self.parse(fields[5], as: .dayOfWeek)
        dayOfMonthIsWildcard = fields[3].contains("*")
        dayOfWeekIsWildcard = fields[5].contains("*")

        // The Gregorian calendar repeats every 400 years, so a search over that long from any date is exhaustive.
        let origin = CivilDateTime(year: 2000, month: 1, day: 1).localSeconds
        guard nextMatch(atOrAfter: origin) != nil else {
            throw ScheduleError(
                .neverFires,
                "'\(normalized)' never fires: day-of-month \(fields[3]) never falls in month \(fields[4])"
            )
        }
    }

    /// The values one field selects.
    private static func parse(_ token: Substring, as field: CronField) throws(ScheduleError) -> CronValueSet {
        var set = CronValueSet()
        for item in token.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else {
                throw ScheduleError(.invalidExpression, "\(field.name): empty list item in \(token)")
            }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw ScheduleError(.invalidExpression, "\(field.name): \(item) has more than one step")
            }
            let step = parts.count == 2 ? try parseStep(parts[1], in: item, as: field) : 1
            let range = try parseRange(parts[0], stepped: parts.count == 2, as: field)
            for value in stride(from: range.lowerBound, through: range.upperBound, by: step) {
                set.insert(field == .dayOfWeek && value == 7 ? 0 : value)
            }
        }
        return set
    }

    /// `*`, `a-b` or `a` (which, followed by a step, runs to the end of the field).
    private static func parseRange(
        _ text: Substring,
        stepped: Bool,
        as field: CronField
    ) throws(ScheduleError) -> ClosedRange<Int> {
        if text == "*" { return field.wildcardRange }
        let ends = text.split(separator: "-", omittingEmptySubsequences: false)
        switch ends.count {
        case 1:
            let value = try parseValue(text, as: field)
            return stepped ? value...max(value, field.wildcardRange.upperBound) : value...value
        case 2 where !ends[0].isEmpty && !ends[1].isEmpty:
            let low = try parseValue(ends[0], as: field)
            var high = try parseValue(ends[1], as: field)
            // `FRI-SUN`: a range may end on Sunday by name (as it may with 7).
            if field == .dayOfWeek, high == 0, low > 0, ends[1].uppercased() == "SUN" { high = 7 }
            guard low <= high else {
                throw ScheduleError(.invalidExpression, "\(field.name): range \(text) runs backwards")
            }
            return low...high
        default:
            throw ScheduleError(.invalidExpression, "\(field.name): \(text) is not a value or a range a-b")
        }
    }

    private static func parseValue(_ text: Substring, as field: CronField) throws(ScheduleError) -> Int {
        let bounds = field.bounds
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let value = Int(text), bounds.contains(value) else {
                throw ScheduleError(
                    .invalidExpression,
                    "\(field.name): \(text) is out of range \(bounds.lowerBound)-\(bounds.upperBound)"
                )
            }
            return value
        }
        if let value = field.names[text.uppercased()] { return value }
        throw ScheduleError(.invalidExpression, "\(field.name): \(text) is not \(field.expectedValue)")
    }

    private static func parseStep(
        _ text: Substring,
        in item: Substring,
        as field: CronField
    ) throws(ScheduleError) -> Int {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ScheduleError(.invalidExpression, "\(field.name): step '\(text)' in \(item) is not a number")
        }
        guard let step = Int(text), (1...field.maximumStep).contains(step) else {
            throw ScheduleError(
                .invalidExpression,
                "\(field.name): step \(text) in \(item) is out of range 1-\(field.maximumStep)"
            )
        }
        return step
    }
}
