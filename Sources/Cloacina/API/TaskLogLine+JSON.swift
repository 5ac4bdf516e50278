public import CloacinaStorage

/// How `cloacina executions logs --output json` and `GET …/tasks/{task}/logs` show a log line.
extension TaskLogLine {
    /// `{sequence, task, attempt, level, message, at}`: `level` as the host's logger names it (`info`, …), `at` in
    /// milliseconds since 1970. `message` is what the task logged (passwords redacted, cut to the bound): tenant
    /// data, shown as it is.
    public var json: JSONValue {
        [
            "sequence": .int(Int(sequence)), "task": .string(taskID), "attempt": .int(attempt),
            "level": .string(level.rawValue), "message": .string(message), "at": .int(Int(at.milliseconds)),
        ]
    }
}

extension TaskLogPage {
    /// `{task: count}` of the lines dropped over the bound.
    public var droppedJSON: JSONValue {
        .object(dropped.mapValues { .int($0) })
    }
}
