// An example workflow package written with CloacinaSDK.
//
// `word_stats` fans out from one task to three independent analyses that run in parallel, then fans back in to a
// report. Each task reads what its dependencies wrote into the context and adds its own keys.
//
//                  ┌─> count_words ──┐
//   split_words ───┼─> longest_word ─┼─> report
//                  └─> letter_stats ─┘
import CloacinaSDK

let textAnalytics = WorkflowPackage(name: "text-analytics", version: "1.0.0") {
    Workflow("word_stats", description: "Split a text into words, analyse them three ways in parallel, report") {
        WorkflowTask("split_words", description: "Split the input \"text\" into lower-case words") { ctx in
            let text = ctx["text"]?.stringValue ?? sampleText
            let words = text.lowercased()
                .split(whereSeparator: { !$0.isLetter && $0 != "'" })
                .map(String.init)
            guard !words.isEmpty else { throw TaskFailure.badInput("\"text\" contains no words") }
            // Kept with the attempt: `cloacina executions logs ID`, `GET …/tasks/split_words/logs`.
            ctx.log("split \(text.count) characters into \(words.count) words")
            ctx["words"] = .array(words.map(JSONValue.string))
        }

        WorkflowTask("count_words", dependsOn: "split_words", description: "Count words and distinct words") { ctx in
            let words = try ctx.array("words").compactMap(\.stringValue)
            ctx["word_count"] = .int(words.count)
            ctx["distinct_words"] = .int(Set(words).count)
        }

        WorkflowTask("longest_word", dependsOn: "split_words", description: "Find the longest word") { ctx in
            let words = try ctx.array("words").compactMap(\.stringValue)
            // Ties go to the alphabetically first word, so the result does not depend on input order.
            let longest = words.max { ($0.count, $1) < ($1.count, $0) } ?? ""
            ctx["longest_word"] = .string(longest)
        }

        WorkflowTask("letter_stats", dependsOn: "split_words", description: "Count letters, report the top five") {
            ctx in
            let words = try ctx.array("words").compactMap(\.stringValue)
            var counts: [Character: Int] = [:]
            for letter in words.joined() where letter.isLetter { counts[letter, default: 0] += 1 }
            let top = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5)
            ctx["top_letters"] = .array(top.map { ["letter": .string(String($0.key)), "count": .int($0.value)] })
        }

        WorkflowTask(
            "report",
            dependsOn: "count_words",
            "longest_word",
            "letter_stats",
            description: "Summarise the three analyses in one line"
        ) { ctx in
            let count = try ctx.int("word_count")
            let distinct = try ctx.int("distinct_words")
            let longest = try ctx.string("longest_word")
            let letters = try ctx.array("top_letters").compactMap { $0["letter"]?.stringValue }.joined()
            ctx["summary"] = .string(
                "\(count) words (\(distinct) distinct); longest \"\(longest)\"; most common letters \(letters)"
            )
        }
    }
}

private let sampleText = """
    Workflows are graphs of tasks. Each task reads the context its dependencies wrote and adds what it learned.
    """

// The one line that exports the package through the C ABI.
@c(cloacina_swift_package) func cloacinaSwiftPackage() -> UnsafeRawPointer { textAnalytics.exported }
