import ArgumentParser
import Cloacina

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

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
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
    }
}
