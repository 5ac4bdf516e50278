import CloacinaModel
import Testing

@Suite("NameRule")
struct NameRuleTests {
    @Test(
        "accepts letters, digits, underscore, dot and dash after a letter or underscore",
        arguments: [
            "a", "_x", "Word_Stats", "v1.2-beta", String(repeating: "a", count: 128),
        ]
    )
    func accepts(name: String) {
        #expect(NameRule.isValid(name))
    }

    @Test(
        "refuses empty, long, and unsafe names",
        arguments: [
            "", "1abc", "-x", ".x", "a b", "a/b", "a;drop", "é", "a\"b", String(repeating: "a", count: 129), "a\nb",
        ]
    )
    func refuses(name: String) {
        #expect(!NameRule.isValid(name))
        #expect(throws: DefinitionError.self) { try NameRule.validate(name, as: "task id") }
    }

    @Test("the error names what was wrong")
    func message() {
        #expect {
            try NameRule.validate("", as: "workflow name")
        } throws: { error in
            (error as? DefinitionError)?.message == "invalid workflow name \"\": it is empty"
        }
        #expect {
            try NameRule.validate("a b", as: "task id")
        } throws: { error in
            let message = (error as? DefinitionError)?.message ?? ""
            return message.contains("invalid task id \"a b\"") && message.contains("letters, digits")
        }
    }
}
