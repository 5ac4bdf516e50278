import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// Renders executions for people: a header line, a per-task table, and the final context.
enum ExecutionText {
    /// The most characters a value, error or context entry shows when `truncating`.
    static let screenWidth = 160

    /// The execution: header, task table, and contexts (the input one too when `showInput`). When `truncating`,
    /// errors and top-level context values longer than ``screenWidth`` are cut, saying how long they are
    /// (`--output json` shows them whole).
    static func render(_ result: ExecutionResult, truncating: Bool = false, showInput: Bool = false) -> String {
        let cut = { (text: String) in truncating ? truncated(text) : text }
        var out = "execution \(result.executionID) (tenant \(result.tenant))\n"
        out += "workflow  \(result.workflow)"
        if let package = result.package {
            out += "  [\(package.name) \(package.version)\(package.sha256.map { ", sha256 \($0.prefix(12))…" } ?? "")]"
        }
        out += "\nstatus    \(result.status.rawValue)"
        if let duration = result.duration { out += " in \(format(duration))" }
        if result.paused { out += " (paused)" }
        if result.cancelRequested { out += " (cancel requested)" }
        out += "\n"
        if let origin = result.retryOf { out += "retry of \(origin)\n" }
        if let origin = result.rerunOf { out += "rerun of \(origin)\n" }
        if let error = result.error { out += "error     \(cut(error))\n" }
        out +=
            "\n"
            + table(
                ["TASK", "STATUS", "ATTEMPTS", "DURATION", "ERROR"],
                result.tasks.map { task in
                    [
                        task.id, task.status.rawValue, String(task.attempts), task.duration.map(format) ?? "-",
                        cut(task.error ?? ""),
                    ]
                }
            )
        if showInput, let context = result.inputContext {
            out += "\ninput context\n" + self.context(context, truncating: truncating)
        }
        if let context = result.finalContext {
            out += "\nfinal context\n" + self.context(context, truncating: truncating)
        }
        return out
    }

    /// A context as pretty JSON; when `truncating` and a top-level value's JSON is longer than ``screenWidth``,
    /// one line per key instead, long values cut.
    static func context(_ context: [String: JSONValue], truncating: Bool) -> String {
        guard truncating, context.values.contains(where: { $0.serializedString().count > screenWidth }) else {
            return JSONValue.object(context).serializedString(pretty: true) + "\n"
        }
        var lines = ["{"]
        for (index, key) in context.keys.sorted().enumerated() {
            let name = JSONValue.string(key).serializedString(pretty: false)
            let value = context[key]!.serializedString(pretty: false)
            lines.append("  \(name): \(truncated(value))" + (index < context.count - 1 ? "," : ""))
        }
        return (lines + ["}"]).joined(separator: "\n") + "\n"
    }

    /// `text` cut to ``screenWidth`` characters on one line, saying how long it was. Control characters (line
    /// breaks, terminal escapes from a task's error) become spaces: what tasks write never drives the terminal.
    static func truncated(_ text: String) -> String {
        let line = printable(text)
        guard line.count > screenWidth else { return line }
        return "\(line.prefix(screenWidth - 40))… (\(text.count) characters; --output json shows all)"
    }

    /// `text` on one line, its control characters (line breaks, terminal escapes) spaces.
    static func printable(_ text: String) -> String {
        var line = ""
        line.unicodeScalars.append(
            contentsOf: text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }
        )
        return line
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
