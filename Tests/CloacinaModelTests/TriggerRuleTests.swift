import CloacinaJSON
import CloacinaModel
import Testing

@Suite("TriggerRule")
struct TriggerRuleTests {
    @Test("the JSON form round-trips")
    func roundTrip() throws {
        let rule = TriggerRule.any([
            .taskFailed("charge"),
            .taskSkipped("charge"),
            .contextValue(key: "amount", operator: .greaterThan, value: 100),
            .contextValue(key: "flag", operator: .exists, value: nil),
        ])
        #expect(try TriggerRule(json: rule.json) == rule)
        #expect(try TriggerRule(jsonText: rule.json.serializedString()) == rule)
        #expect(try TriggerRule(jsonText: #"{"type":"always"}"#) == .always)
    }

    @Test(
        "malformed rules are rejected with a message naming the problem",
        arguments: [
            (#"{"type":"sometimes"}"#, "unknown rule type \"sometimes\""),
            (#"{"type":"all"}"#, "needs a \"conditions\" array"),
            (#"{"type":"all","conditions":[]}"#, "at least one condition"),
            (#"{"type":"always","conditions":[]}"#, "unknown key \"conditions\""),
            (
                #"{"type":"all","conditions":[{"type":"task_sucess","task":"a"}]}"#,
                "unknown condition type \"task_sucess\""
            ),
            (#"{"type":"all","conditions":[{"type":"task_failed"}]}"#, "needs a string \"task\""),
            (#"{"type":"all","conditions":[{"type":"task_failed","task":"a b"}]}"#, "invalid task id"),
            (
                #"{"type":"any","conditions":[{"type":"context_value","key":"k","operator":"bigger","value":1}]}"#,
                "unknown operator \"bigger\""
            ),
            (
                #"{"type":"any","conditions":[{"type":"context_value","key":"k","operator":"equals"}]}"#,
                "needs a \"value\""
            ),
            (
                #"{"type":"any","conditions":[{"type":"context_value","key":"k","operator":"exists","value":1}]}"#,
                "takes no \"value\""
            ),
            (
                #"{"type":"any","conditions":[{"type":"context_value","key":"","operator":"exists"}]}"#,
                "non-empty string \"key\""
            ),
            (#"[1]"#, "must be a JSON object"),
            (#"{"type":"all","#, "invalid JSON"),
        ]
    )
    func malformed(text: String, expected: String) {
        #expect {
            try TriggerRule(jsonText: text)
        } throws: { error in
            guard let error = error as? DefinitionError else { return false }
            return error.code == .invalidTriggerRule && error.message.contains(expected)
        }
    }

    @Test("all, any and none combine task outcomes")
    func combinators() {
        let outcomes: [String: TaskOutcome] = ["a": .succeeded, "b": .failed, "c": .skipped]
        let outcome = { (task: String) in outcomes[task] }
        #expect(TriggerRule.always.evaluate(outcome: outcome, context: [:]))
        #expect(TriggerRule.all([.taskSucceeded("a"), .taskFailed("b")]).evaluate(outcome: outcome, context: [:]))
        #expect(!TriggerRule.all([.taskSucceeded("a"), .taskSucceeded("b")]).evaluate(outcome: outcome, context: [:]))
        #expect(TriggerRule.any([.taskSucceeded("b"), .taskSkipped("c")]).evaluate(outcome: outcome, context: [:]))
        #expect(!TriggerRule.any([.taskSucceeded("b"), .taskFailed("a")]).evaluate(outcome: outcome, context: [:]))
        #expect(TriggerRule.none([.taskFailed("a"), .taskSkipped("b")]).evaluate(outcome: outcome, context: [:]))
        #expect(!TriggerRule.none([.taskFailed("b")]).evaluate(outcome: outcome, context: [:]))
        #expect(!TriggerRule.all([.taskSucceeded("unknown")]).evaluate(outcome: outcome, context: [:]))
    }

    @Test(
        "every context operator, including a missing key",
        arguments: [
            (ContextOperator.equals, JSONValue.int(5), true), (.equals, .double(5.0), true), (.equals, .int(6), false),
            (.notEquals, .int(6), true), (.notEquals, .int(5), false),
            (.greaterThan, .int(4), true), (.greaterThan, .double(5.5), false),
            (.lessThan, .double(5.5), true), (.lessThan, .int(5), false),
        ]
    )
    func numericOperators(op: ContextOperator, value: JSONValue, expected: Bool) {
        let rule = TriggerRule.all([.contextValue(key: "n", operator: op, value: value)])
        #expect(rule.evaluate(outcome: { _ in nil }, context: ["n": 5]) == expected)
        // On a missing key every comparison is false.
        #expect(!rule.evaluate(outcome: { _ in nil }, context: [:]))
    }

    @Test("contains, strings, arrays, objects and existence")
    func containerOperators() {
        let context: [String: JSONValue] = ["s": "hello world", "a": [1, "x"], "o": ["k": 1], "z": "b"]
        func holds(_ key: String, _ op: ContextOperator, _ value: JSONValue?) -> Bool {
            TriggerRule.all([.contextValue(key: key, operator: op, value: value)]).evaluate(
                outcome: { _ in nil },
                context: context
            )
        }
        #expect(holds("s", .contains, "world"))
        #expect(!holds("s", .contains, "moon"))
        #expect(holds("s", .notContains, "moon"))
        #expect(holds("a", .contains, 1.0))
        #expect(holds("a", .contains, "x"))
        #expect(holds("a", .notContains, "y"))
        #expect(holds("o", .contains, "k"))
        #expect(!holds("s", .contains, 1))
        #expect(!holds("s", .notContains, 1))
        #expect(holds("z", .greaterThan, "a"))
        #expect(holds("s", .exists, nil))
        #expect(!holds("missing", .exists, nil))
        #expect(holds("missing", .notExists, nil))
        #expect(!holds("s", .notExists, nil))
    }
}
