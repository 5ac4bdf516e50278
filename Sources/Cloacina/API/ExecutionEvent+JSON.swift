/// How `cloacina executions events --output json` and `GET …/executions/{id}/events` show an event.
extension ExecutionEvent {
    /// `{sequence, kind, task, attempt, detail, at}`: `kind` as stored (`task_failed`, …), `at` in milliseconds since
    /// 1970, absent fields null. `detail` is what the engine recorded (an error text, a delay): tenant data, shown as
    /// it is.
    public var json: JSONValue {
        var fields: [String: JSONValue] = [:]
        fields["sequence"] = .int(Int(sequence))
        fields["kind"] = .string(kind.rawValue)
        fields["task"] = taskID.map { .string($0) } ?? .null
        fields["attempt"] = attempt.map { .int($0) } ?? .null
        fields["detail"] = detail.map { .string($0) } ?? .null
        fields["at"] = .int(Int(at.milliseconds))
        return .object(fields)
    }
}
