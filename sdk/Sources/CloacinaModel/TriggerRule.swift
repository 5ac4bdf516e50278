public import CloacinaJSON

/// When a task runs once its dependencies have finished: Cloacina's trigger-rule model.
///
/// Without a rule a task runs only if every dependency completed. With a rule it runs when the rule holds and is
/// skipped otherwise. A rule is a plain value with a strict JSON form (unknown keys or names are errors, never
/// defaults); it does not decide *when* it is evaluated, the scheduler does.
public enum TriggerRule: Sendable, Hashable {
    /// Run once the dependencies have finished, whatever their outcome.
    case always
    /// Run if every condition holds.
    case all([TriggerCondition])
    /// Run if at least one condition holds.
    case any([TriggerCondition])
    /// Run if no condition holds.
    case none([TriggerCondition])
}

/// One test inside a ``TriggerRule``.
public enum TriggerCondition: Sendable, Hashable {
    /// The named task completed.
    case taskSucceeded(String)
    /// The named task failed (after its retries).
    case taskFailed(String)
    /// The named task was skipped.
    case taskSkipped(String)
    /// A top-level key of the task's input context compares with a value. `value` is nil for the two existence
    /// operators and required for the others.
    case contextValue(key: String, operator: ContextOperator, value: JSONValue?)

    /// The task this condition looks at, if any.
    public var referencedTask: String? {
        switch self {
        case .taskSucceeded(let task), .taskFailed(let task), .taskSkipped(let task): return task
        case .contextValue: return nil
        }
    }
}

/// How a ``TriggerCondition/contextValue(key:operator:value:)`` compares.
public enum ContextOperator: String, Sendable, Hashable, CaseIterable {
    case equals
    case notEquals = "not_equals"
    case greaterThan = "greater_than"
    case lessThan = "less_than"
    case contains
    case notContains = "not_contains"
    case exists
    case notExists = "not_exists"

    /// Whether the operator compares against a value (all but the existence tests).
    public var takesValue: Bool { self != .exists && self != .notExists }
}

/// The outcome of a finished task, as trigger rules see it.
public enum TaskOutcome: Sendable, Hashable {
    case succeeded
    case failed
    case skipped
}

extension TriggerRule {
    /// The conditions of the rule (none for ``always``).
    public var conditions: [TriggerCondition] {
        switch self {
        case .always: return []
        case .all(let conditions), .any(let conditions), .none(let conditions): return conditions
        }
    }

    /// Whether the rule holds, given the outcomes of finished tasks and the task's input context.
    ///
    /// A condition on a task with no recorded outcome is false.
    public func evaluate(outcome: (String) -> TaskOutcome?, context: [String: JSONValue]) -> Bool {
        func holds(_ condition: TriggerCondition) -> Bool { condition.evaluate(outcome: outcome, context: context) }
        switch self {
        case .always: return true
        case .all(let conditions): return conditions.allSatisfy(holds)
        case .any(let conditions): return conditions.contains(where: holds)
        case .none(let conditions): return !conditions.contains(where: holds)
        }
    }
}

extension TriggerCondition {
    /// Whether the condition holds. A missing context key makes every test false except ``ContextOperator/notExists``.
    public func evaluate(outcome: (String) -> TaskOutcome?, context: [String: JSONValue]) -> Bool {
        switch self {
        case .taskSucceeded(let task): return outcome(task) == .succeeded
        case .taskFailed(let task): return outcome(task) == .failed
        case .taskSkipped(let task): return outcome(task) == .skipped
        case .contextValue(let key, let op, let expected):
            guard let actual = context[key] else { return op == .notExists }
            switch op {
            case .exists: return true
            case .notExists: return false
            case .equals: return expected.map { Self.equal(actual, $0) } ?? false
            case .notEquals: return expected.map { !Self.equal(actual, $0) } ?? false
            case .greaterThan: return expected.flatMap { Self.compare(actual, $0) }.map { $0 > 0 } ?? false
            case .lessThan: return expected.flatMap { Self.compare(actual, $0) }.map { $0 < 0 } ?? false
            case .contains: return expected.flatMap { Self.contains(actual, $0) } ?? false
            case .notContains: return expected.flatMap { Self.contains(actual, $0) }.map { !$0 } ?? false
            }
        }
    }

    /// JSON equality in which numbers compare by value (1 equals 1.0).
    static func equal(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return a == b
        case (.int, .double), (.double, .int), (.double, .double): return lhs.doubleValue == rhs.doubleValue
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { equal(value, $0) } ?? false }
        default: return lhs == rhs
        }
    }

    /// Orders two numbers or two strings; nil for anything else.
    static func compare(_ lhs: JSONValue, _ rhs: JSONValue) -> Int? {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        case (.string(let a), .string(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        default:
            guard let a = lhs.doubleValue, let b = rhs.doubleValue else { return nil }
            return a < b ? -1 : (a > b ? 1 : 0)
        }
    }

    /// Substring of a string, element of an array, or key of an object; nil when the container cannot hold the value.
    static func contains(_ container: JSONValue, _ element: JSONValue) -> Bool? {
        switch (container, element) {
        case (.string(let text), .string(let part)): return part.isEmpty || text.contains(part)
        case (.array(let elements), _): return elements.contains { equal($0, element) }
        case (.object(let members), .string(let key)): return members[key] != nil
        default: return nil
        }
    }
}

extension TriggerRule {
    /// Parses the JSON form documented in `cloacina.h`, rejecting unknown keys, types and operators.
    public init(json: JSONValue) throws(DefinitionError) {
        let members = try Self.object(json, "the rule")
        guard case .string(let type)? = members["type"] else {
            throw Self.error("the rule needs a string \"type\" (always, all, any or none)")
        }
        switch type {
        case "always":
            try Self.onlyKeys(members, ["type"], in: "an \"always\" rule")
            self = .always
        case "all", "any", "none":
            try Self.onlyKeys(members, ["type", "conditions"], in: "an \"\(type)\" rule")
            guard case .array(let items)? = members["conditions"] else {
                throw Self.error("an \"\(type)\" rule needs a \"conditions\" array")
            }
            guard !items.isEmpty else { throw Self.error("an \"\(type)\" rule needs at least one condition") }
            var conditions: [TriggerCondition] = []
            for (position, item) in items.enumerated() {
                conditions.append(try TriggerCondition(json: item, position: position))
            }
            self = type == "all" ? .all(conditions) : (type == "any" ? .any(conditions) : .none(conditions))
        default:
            throw Self.error("unknown rule type \"\(type)\" (expected always, all, any or none)")
        }
    }

    /// Parses the rule from JSON text.
    public init(jsonText: String) throws(DefinitionError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: jsonText)
        } catch {
            throw Self.error("\(error)")
        }
        try self.init(json: value)
    }

    /// The rule's JSON form.
    public var json: JSONValue {
        switch self {
        case .always: return ["type": "always"]
        case .all(let conditions): return ["type": "all", "conditions": .array(conditions.map(\.json))]
        case .any(let conditions): return ["type": "any", "conditions": .array(conditions.map(\.json))]
        case .none(let conditions): return ["type": "none", "conditions": .array(conditions.map(\.json))]
        }
    }

    static func error(_ message: String) -> DefinitionError {
        DefinitionError(.invalidTriggerRule, "trigger rule: \(message)")
    }

    static func object(_ json: JSONValue, _ what: String) throws(DefinitionError) -> [String: JSONValue] {
        guard case .object(let members) = json else {
            throw error("\(what) must be a JSON object, got \(json.kindName)")
        }
        return members
    }

    static func onlyKeys(
        _ members: [String: JSONValue],
        _ allowed: Set<String>,
        in what: String
    ) throws(DefinitionError) {
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw error("unknown key \"\(unknown)\" in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}

extension TriggerCondition {
    init(json: JSONValue, position: Int) throws(DefinitionError) {
        let what = "condition \(position + 1)"
        let members = try TriggerRule.object(json, what)
        guard case .string(let type)? = members["type"] else {
            throw TriggerRule.error(
                "\(what) needs a string \"type\" (task_success, task_failed, task_skipped or context_value)"
            )
        }
        switch type {
        case "task_success", "task_failed", "task_skipped":
            try TriggerRule.onlyKeys(members, ["type", "task"], in: what)
            guard case .string(let task)? = members["task"] else {
                throw TriggerRule.error("\(what) (\(type)) needs a string \"task\"")
            }
            do {
                try NameRule.validate(task, as: "task id")
            } catch {
                throw TriggerRule.error("\(what): \(error.message)")
            }
            switch type {
            case "task_success": self = .taskSucceeded(task)
            case "task_failed": self = .taskFailed(task)
            default: self = .taskSkipped(task)
            }
        case "context_value":
            try TriggerRule.onlyKeys(members, ["type", "key", "operator", "value"], in: what)
            guard case .string(let key)? = members["key"], !key.isEmpty else {
                throw TriggerRule.error("\(what) (context_value) needs a non-empty string \"key\"")
            }
            guard case .string(let name)? = members["operator"] else {
                throw TriggerRule.error("\(what) (context_value) needs a string \"operator\"")
            }
            guard let op = ContextOperator(rawValue: name) else {
                let known = ContextOperator.allCases.map(\.rawValue).joined(separator: ", ")
                throw TriggerRule.error("\(what): unknown operator \"\(name)\" (expected one of \(known))")
            }
            let value = members["value"]
            if op.takesValue && value == nil {
                throw TriggerRule.error("\(what): operator \(name) needs a \"value\"")
            }
            if !op.takesValue && value != nil {
                throw TriggerRule.error("\(what): operator \(name) takes no \"value\"")
            }
            self = .contextValue(key: key, operator: op, value: value)
        default:
            throw TriggerRule.error(
                "\(what): unknown condition type \"\(type)\" (expected task_success, task_failed, task_skipped or context_value)"
            )
        }
    }

    /// The condition's JSON form.
    public var json: JSONValue {
        switch self {
        case .taskSucceeded(let task): return ["type": "task_success", "task": .string(task)]
        case .taskFailed(let task): return ["type": "task_failed", "task": .string(task)]
        case .taskSkipped(let task): return ["type": "task_skipped", "task": .string(task)]
        case .contextValue(let key, let op, let value):
            var members: [String: JSONValue] = [
                "type": "context_value", "key": .string(key), "operator": .string(op.rawValue),
            ]
            if let value { members["value"] = value }
            return .object(members)
        }
    }
}
