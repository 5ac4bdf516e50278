import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// Renders executions for people: a header line, a per-task table, and the final context.
enum ExecutionText {
    static func render(_ result: ExecutionResult) -> String {
        var out = "execution \(result.executionID) (tenant \(result.tenant))\n"
        out += "workflow  \(result.workflow)"
        if let package = result.package {
            out += "  [\(package.name) \(package.version)\(package.sha256.map { ", sha256 \($0.prefix(12))…" } ?? "")]"
        }
        out += "\nstatus    \(result.status.rawValue)"
        if let duration = result.duration { out += " in \(format(duration))" }
        out += "\n"
        if let error = result.error { out += "error     \(error)\n" }
        out +=
            "\n"
            + table(
                ["TASK", "STATUS", "ATTEMPTS", "DURATION", "ERROR"],
                result.tasks.map { task in
                    [
                        task.id, task.status.rawValue, String(task.attempts), task.duration.map(format) ?? "-",
                        task.error ?? "",
                    ]
                }
            )
        if let context = result.finalContext {
            out += "\nfinal context\n" + JSONValue.object(context).serializedString(pretty: true) + "\n"
        }
        return out
    }

    static func render(_ summaries: [ExecutionSummary]) -> String {
        guard !summaries.isEmpty else { return "no executions\n" }
        return table(
            ["EXECUTION", "WORKFLOW", "STATUS", "DURATION", "CREATED"],
            summaries.map { summary in
                [
                    summary.executionID, summary.workflow, summary.status.rawValue,
                    summary.duration.map(format) ?? "-", iso8601(summary.createdAt),
                ]
            }
        )
    }

    /// Left-aligned columns separated by two spaces; trailing spaces trimmed.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            var line = ""
            for (column, cell) in row.enumerated() {
                line += cell
                if column < row.count - 1 { line += String(repeating: " ", count: widths[column] - cell.count + 2) }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line + "\n"
        }.joined()
    }

    /// `2026-11-24T05:22:41.123Z`: UTC, to the millisecond.
    static func iso8601(_ timestamp: Timestamp) -> String {
        var seconds = time_t(timestamp.milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(timestamp.milliseconds % 1000)
        let fraction = String(repeating: "0", count: 3 - String(milliseconds).count) + String(milliseconds)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }

    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.inMilliseconds
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        let tenths = milliseconds / 100
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
