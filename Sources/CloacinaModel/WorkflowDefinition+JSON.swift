public import CloacinaJSON

extension WorkflowDefinition {
    /// The workflow as JSON: `{name, description, tasks: [...]}`.
    public var json: JSONValue {
        [
            "name": .string(name),
            "description": description.map(JSONValue.string) ?? .null,
            "tasks": .array(tasks.map(\.json)),
        ]
    }

    /// Reads the form written by ``json``.
    public init(json: JSONValue) throws(DefinitionError) {
        guard let name = json["name"]?.stringValue, let tasks = json["tasks"]?.arrayValue else {
            throw DefinitionError(.invalidGraph, "a workflow needs a string \"name\" and a \"tasks\" array")
        }
        var definitions: [TaskDefinition] = []
        for task in tasks { definitions.append(try TaskDefinition(json: task)) }
        self.init(name: name, description: json["description"]?.stringValue, tasks: definitions)
    }
}

extension TaskDefinition {
    /// The task as JSON: `{id, dependencies, description, retry, timeout_ms, trigger_rule}`.
    public var json: JSONValue {
        [
            "id": .string(id),
            "dependencies": .array(dependencies.map(JSONValue.string)),
            "description": description.map(JSONValue.string) ?? .null,
            "retry": retry.json,
            "timeout_ms": timeout.map { .int(Int($0.inMilliseconds)) } ?? .null,
            "trigger_rule": trigger?.json ?? .null,
        ]
    }

    /// Reads the form written by ``json``.
    public init(json: JSONValue) throws(DefinitionError) {
        guard let id = json["id"]?.stringValue, let dependencies = json["dependencies"]?.arrayValue else {
            throw DefinitionError(.invalidGraph, "a task needs a string \"id\" and a \"dependencies\" array")
        }
        let retry = try json["retry"].map { value throws(DefinitionError) in try RetryPolicy(json: value) } ?? .none
        var trigger: TriggerRule?
        if let rule = json["trigger_rule"], !rule.isNull { trigger = try TriggerRule(json: rule) }
        self.init(
            id: id,
            dependencies: dependencies.compactMap(\.stringValue),
            retry: retry,
            timeout: json["timeout_ms"]?.intValue.map { .milliseconds($0) },
            trigger: trigger,
            description: json["description"]?.stringValue
        )
    }
}
