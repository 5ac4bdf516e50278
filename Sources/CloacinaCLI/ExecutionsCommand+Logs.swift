import ArgumentParser
import Cloacina
import Foundation

extension ExecutionsCommand {
    /// `cloacina executions logs ID`: the lines an execution's tasks logged, attempt by attempt.
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the lines an execution's tasks logged (host->log, ctx.log), oldest first.",
            discussion: """
                Each attempt keeps at most --max-log-lines lines (default 1000) of at most --max-log-line-bytes \
                bytes (default 8 KiB; a longer line is cut and says so); the lines over the bound are counted, \
                and this command says how many each task dropped. Passwords in connection strings are redacted.
                """
        )

        @Argument(help: "The execution id, or a prefix of it that only one execution has.")
        var id: String

        @Option(help: "Only this task's lines.")
        var task: String?

        @Option(help: "Only this attempt's lines (1 for the first).")
        var attempt: Int?

        @Option(name: [.customLong("output"), .customLong("format")], help: "Output format: text or json.")
        var output: OutputFormat = .text

        @Flag(help: "Keep printing lines as attempts end until the execution ends (JSON: one line per line).")
        var follow = false

        @OptionGroup var tenantOptions: TenantOptions

        func validate() throws {
            if let attempt, attempt < 1 { throw ValidationError("--attempt must be at least 1, got \(attempt)") }
        }

        func run() async throws {
            let (task, attempt, output, follow) = (self.task, self.attempt, self.output, self.follow)
            var lines: [TaskLogLine] = []
            var dropped: [String: Int] = [:]
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner, id throws(CloacinaError) in
                var query = TaskLogQuery(executionID: id, taskID: task, attempt: attempt)
                if follow {
                    for try await page in try await runner.followTaskLogs(query) {
                        for line in page.lines { Self.printFollowed(line, output) }
                        dropped = page.dropped
                        fflush(nil)  // every output stream: a reader of a pipe sees each attempt's lines at once
                    }
                } else {
                    while true {
                        let page = try await runner.taskLogs(query)
                        lines += page.lines
                        dropped = page.dropped
                        guard page.lines.count == query.limit, let last = page.lines.last else { break }
                        query.after = last.sequence
                    }
                }
                return try await runner.executionStatus(id)
            }
            switch (output, follow) {
            case (.json, false):
                let json: JSONValue = [
                    "execution_id": .string(result.executionID), "lines": .array(lines.map(\.json)),
                    "dropped": TaskLogPage(dropped: dropped).droppedJSON,
                ]
                print(json.serializedString(pretty: true))
            case (.text, false):
                for line in lines { print(Self.text(line)) }
                if lines.isEmpty { print("no log lines") }
                for note in Self.droppedNotes(dropped) { print(note) }
            case (.json, true):
                // Standard output stays one JSON line per log line.
                for note in Self.droppedNotes(dropped) { printError("note: \(note)") }
            case (.text, true):
                for note in Self.droppedNotes(dropped) { print(note) }
            }
        }

        private static func printFollowed(_ line: TaskLogLine, _ output: OutputFormat) {
            switch output {
            case .json: print(line.json.serializedString(pretty: false))
            case .text: print(text(line))
            }
        }

        /// `AT TASK #ATTEMPT LEVEL MESSAGE`, the message on one line with its control characters spaces.
        static func text(_ line: TaskLogLine) -> String {
            "\(ExecutionText.iso8601(line.at)) \(line.taskID) #\(line.attempt) \(line.level.rawValue.uppercased()) "
                + ExecutionText.printable(line.message)
        }

        /// "task T: N lines dropped …" for each task that logged more than its attempts' bound.
        static func droppedNotes(_ dropped: [String: Int]) -> [String] {
            dropped.sorted { $0.key < $1.key }.map { task, count in
                "task \(task): \(count) \(count == 1 ? "line" : "lines") dropped over the bound of lines per "
                    + "attempt (--max-log-lines), over all its attempts"
            }
        }
    }
}
