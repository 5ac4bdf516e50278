import Cloacina

/// How the `schedules` commands show schedules as text: one schedule in full, or a table with next fire times.
enum ScheduleText {
    static func render(_ info: ScheduleInfo) -> String {
        let record = info.record
        var lines = [
            "schedule \(record.id)\(record.paused ? " (paused)" : "")",
            "  workflow:      \(record.workflow)",
            "  cron:          \(record.cron)  (\(record.timeZone))",
            "  catch-up:      \(record.catchUp.rawValue) (cap \(record.catchUpCap))",
            "  overlap:       \(record.overlap.rawValue)",
            "  next fire:     \(instant(info.nextFireAt))",
            "  fired through: \(instant(record.firedThrough))",
        ]
        if let start = record.startsAt { lines.append("  starts:        \(instant(start))") }
        if let end = record.endsAt { lines.append("  ends:          \(instant(end))") }
        lines.append("  input:         \(String(decoding: record.input, as: UTF8.self))")
        return lines.joined(separator: "\n") + "\n"
    }

    static func table(_ schedules: [ScheduleInfo]) -> String {
        guard !schedules.isEmpty else { return "no schedules\n" }
        let rows = schedules.map { info in
            [
                info.record.id, info.record.workflow, info.record.cron, info.record.timeZone,
                info.record.paused ? "paused" : "active", instant(info.nextFireAt),
            ]
        }
        let header = ["ID", "WORKFLOW", "CRON", "ZONE", "STATE", "NEXT FIRE"]
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, text in
                column == row.count - 1 ? text : text + String(repeating: " ", count: widths[column] - text.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    private static func instant(_ value: Timestamp?) -> String {
        value.map { CronSchedule.format(milliseconds: $0.milliseconds) } ?? "-"
    }
}
