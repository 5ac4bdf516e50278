extension CronSchedule {
    /// Reads an instant as users write one: `2026-03-29T01:30:00Z`, with optional milliseconds (`.250`) and a
    /// `Z` or `±HH:MM` offset, a date alone (`2026-03-29`, midnight UTC), or milliseconds since 1970 (`1774747800000`).
    /// Returns milliseconds since the epoch; throws ``ScheduleError/Code/invalidBounds`` naming the text otherwise.
    public static func instant(_ text: String) throws(ScheduleError) -> Int64 {
        let invalid = ScheduleError(
            .invalidBounds,
            "'\(text)' is not an instant (expected 2026-03-29T01:30:00Z, 2026-03-29T03:30:00+02:00, 2026-03-29, or "
                + "milliseconds since 1970)"
        )
        if let milliseconds = Int64(text), !text.hasPrefix("+") { return milliseconds }
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<from + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func byte(_ index: Int, is character: Character) -> Bool {
            index < bytes.count && bytes[index] == character.asciiValue
        }
        guard let year = number(0, 4), byte(4, is: "-"), let month = number(5, 2), byte(7, is: "-"),
            let day = number(8, 2), (1...12).contains(month),
            (1...CivilDateTime.daysInMonth(year: Int64(year), month: month)).contains(day)
        else { throw invalid }
        var date = CivilDateTime(year: Int64(year), month: month, day: day)
        var fraction = 0
        var offsetSeconds = 0
        if bytes.count > 10 {
            guard byte(10, is: "T") || byte(10, is: " "), let hour = number(11, 2), byte(13, is: ":"),
                let minute = number(14, 2), byte(16, is: ":"), let second = number(17, 2), hour < 24, minute < 60,
                second < 60
            else { throw invalid }
            date.hour = hour
            date.minute = minute
            date.second = second
            var index = 19
            if byte(index, is: ".") {
                guard let milliseconds = number(index + 1, 3) else { throw invalid }
                fraction = milliseconds
                index += 4
            }
            if byte(index, is: "Z") && index + 1 == bytes.count {
                offsetSeconds = 0
            } else if byte(index, is: "+") || byte(index, is: "-"), let hours = number(index + 1, 2),
                byte(index + 3, is: ":"), let minutes = number(index + 4, 2), index + 6 == bytes.count, hours < 24,
                minutes < 60
            {
                offsetSeconds = (hours * 3600 + minutes * 60) * (byte(index, is: "-") ? -1 : 1)
            } else {
                throw invalid
            }
        }
        return (date.localSeconds - Int64(offsetSeconds)) * 1000 + Int64(fraction)
    }
}
