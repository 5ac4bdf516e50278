import ArgumentParser
import Cloacina
import Foundation

extension ExecutionsCommand {
    /// `cloacina executions events ID`: an execution's recorded history.
    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an execution's history, oldest first: every start, attempt, retry, skip and end."
        )

        @Argument(help: "The execution id, or a prefix of it that only one execution has.")
        var id: String

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @Flag(help: "Keep printing events as they are recorded until the execution ends (JSON: one per line).")
        var follow = false

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            if follow {
                try await followEvents()
                return
            }
            var events: [ExecutionEvent] = []
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner, id throws(CloacinaError) in
                let current = try await runner.executionStatus(id)
                events = try await runner.events(of: id)
                return current
            }
            switch output {
            case .json:
                let json: JSONValue = [
                    "execution_id": .string(result.executionID), "events": .array(events.map(\.json)),
                ]
                print(json.serializedString(pretty: true))
            case .text:
                let rows = events.map { event in
                    [
                        ExecutionText.iso8601(event.at), event.kind.rawValue, event.taskID ?? "-",
                        event.attempt.map(String.init) ?? "-", ExecutionText.truncated(event.detail ?? ""),
                    ]
                }
                print(ExecutionText.table(["AT", "EVENT", "TASK", "ATTEMPT", "DETAIL"], rows), terminator: "")
            }
        }

        /// Prints events as they are recorded, until the execution ended.
        private func followEvents() async throws {
            let output = self.output
            _ = try await ExecutionsCommand.withResult(id, tenantOptions) { runner, id throws(CloacinaError) in
                for try await events in runner.followEvents(of: id) {
                    for event in events {
                        switch output {
                        case .json: print(event.json.serializedString(pretty: false))
                        case .text:
                            let task = event.taskID.map { " \($0)" + (event.attempt.map { " #\($0)" } ?? "") } ?? ""
                            let detail = event.detail.map { " " + ExecutionText.truncated($0) } ?? ""
                            print("\(ExecutionText.iso8601(event.at)) \(event.kind.rawValue)\(task)\(detail)")
                        }
                    }
                    fflush(nil)  // every output stream: a reader of a pipe sees each batch at once
                }
                return try await runner.executionStatus(id)
            }
        }
    }
}
