import Cloacina

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
                    summary.duration.map(format) ?? "-", String(summary.createdAt.milliseconds),
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

    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.inMilliseconds
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        let tenths = milliseconds / 100
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
