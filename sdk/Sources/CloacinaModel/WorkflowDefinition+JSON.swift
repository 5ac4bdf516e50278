public import CloacinaJSON

extension WorkflowDefinition {
    /// The workflow as JSON: `{name, description, tasks: [...]}`, and `schedules: [{id, cron, time_zone, input,
    /// catch_up, catch_up_cap, overlap}]` when the package declared any (left out otherwise, so a definition without
    /// schedules reads as it always did).
    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "name": .string(name),
            "description": description.map(JSONValue.string) ?? .null,
            "tasks": .array(tasks.map(\.json)),
        ]
        if !schedules.isEmpty {
            fields["schedules"] = .array(
                schedules.map { schedule in
                    [
                        "id": .string(schedule.id), "cron": .string(schedule.cron),
                        "time_zone": .string(schedule.timeZone), "input": .string(schedule.input),
                        "catch_up": .string(schedule.catchUp), "catch_up_cap": .int(schedule.catchUpCap),
                        "overlap": .string(schedule.overlap),
                    ]
                }
            )
        }
        return .object(fields)
    }

    /// Reads the form written by ``json``.
    public init(json: JSONValue) throws(DefinitionError) {
        guard let name = json["name"]?.stringValue, let tasks = json["tasks"]?.arrayValue else {
            throw DefinitionError(.invalidGraph, "a workflow needs a string \"name\" and a \"tasks\" array")
        }
        var definitions: [TaskDefinition] = []
        for task in tasks { definitions.append(try TaskDefinition(json: task)) }
        var schedules: [ScheduleDefault] = []
        for schedule in json["schedules"]?.arrayValue ?? [] {
            guard let id = schedule["id"]?.stringValue, let cron = schedule["cron"]?.stringValue,
                let zone = schedule["time_zone"]?.stringValue, let input = schedule["input"]?.stringValue,
                let catchUp = schedule["catch_up"]?.stringValue, let cap = schedule["catch_up_cap"]?.intValue,
                let overlap = schedule["overlap"]?.stringValue
            else {
                throw DefinitionError(.invalidGraph, "a schedule of workflow \(name) is missing a field")
            }
            schedules.append(
                ScheduleDefault(
                    id: id,
                    cron: cron,
                    timeZone: zone,
                    input: input,
                    catchUp: catchUp,
                    catchUpCap: cap,
                    overlap: overlap
                )
            )
        }
        self.init(name: name, description: json["description"]?.stringValue, tasks: definitions, schedules: schedules)
    }
}

extension TaskDefinition {
    /// The task as JSON: `{id, dependencies, description, retry, timeout_ms, trigger_rule}`, and `native:
    /// {signature, arguments, result, symbol, fail_if}` for a native-signature task (left out otherwise).
    public var json: JSONValue {
        var fields: JSONValue = [
            "id": .string(id),
            "dependencies": .array(dependencies.map(JSONValue.string)),
            "description": description.map(JSONValue.string) ?? .null,
            "retry": retry.json,
            "timeout_ms": timeout.map { .int(Int($0.inMilliseconds)) } ?? .null,
            "trigger_rule": trigger?.json ?? .null,
        ]
        if let native {
            fields["native"] = [
                "signature": .string(native.signature),
                "arguments": .array(native.arguments.map(JSONValue.string)),
                "result": native.result.map(JSONValue.string) ?? .null,
                "symbol": native.symbol.map(JSONValue.string) ?? .null,
                "fail_if": native.failIf.map(JSONValue.string) ?? .null,
            ]
        }
        return fields
    }

    /// Reads the form written by ``json``.
    public init(json: JSONValue) throws(DefinitionError) {
        guard let id = json["id"]?.stringValue, let dependencies = json["dependencies"]?.arrayValue else {
            throw DefinitionError(.invalidGraph, "a task needs a string \"id\" and a \"dependencies\" array")
        }
        let retry = try json["retry"].map { value throws(DefinitionError) in try RetryPolicy(json: value) } ?? .none
        var trigger: TriggerRule?
        if let rule = json["trigger_rule"], !rule.isNull { trigger = try TriggerRule(json: rule) }
        var native: NativeCallDescription?
        if let call = json["native"], !call.isNull {
            guard let signature = call["signature"]?.stringValue, let arguments = call["arguments"]?.arrayValue else {
                throw DefinitionError(.invalidGraph, "task \(id): \"native\" needs a \"signature\" and \"arguments\"")
            }
            native = NativeCallDescription(
                signature: signature,
                arguments: arguments.compactMap(\.stringValue),
                result: call["result"]?.stringValue,
                symbol: call["symbol"]?.stringValue,
                failIf: call["fail_if"]?.stringValue
            )
        }
        self.init(
            id: id,
            dependencies: dependencies.compactMap(\.stringValue),
            retry: retry,
            timeout: json["timeout_ms"]?.intValue.map { .milliseconds($0) },
            trigger: trigger,
            description: json["description"]?.stringValue,
            native: native
        )
    }
}
