import Cloacina
import CloacinaDaemon
import CloacinaHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("HTTP API")
struct HTTPAPITests {
    static let resultKeys: Set<String> = [
        "execution_id", "tenant", "workflow", "status", "package", "input_context", "final_context", "error", "tasks",
        "duration_ms", "created_at", "started_at", "completed_at", "paused", "cancel_requested", "retry_of", "rerun_of",
        "schedule_id", "scheduled_for",
    ]
    static let summaryKeys: Set<String> = [
        "execution_id", "tenant", "workflow", "status", "package", "error", "duration_ms", "created_at",
        "started_at", "completed_at", "paused", "retry_of", "rerun_of", "schedule_id", "scheduled_for",
    ]

    @Test("POST starts an execution (202 with its id); GET follows it until it ends, or waits with ?wait=true")
    func submitThenPoll() async throws {
        try await APIHarness("submit").run { client in
            let answer = try await client.call(
                .post,
                "/tenants/acme/workflows",
                body: #"{"workflow_name": "greet", "context": {"name": "ada"}}"#
            )
            #expect(answer.status == .accepted)
            #expect(answer.contentType == "application/json")
            let id = try #require(answer.json?["execution_id"]?.stringValue)
            #expect(["Pending", "Running", "Completed"].contains(answer.json?["status"]?.stringValue ?? ""))
            #expect(answer.headers[.location] == "/tenants/acme/executions/\(id)")

            let result = try await client.waitUntilEnded(tenant: "acme", id: id)
            #expect(result["status"] == "Completed")
            #expect(result["execution_id"]?.stringValue == id)
            #expect(result["final_context"]?["shouted"] == "HELLO ADA")
            #expect(result["final_context"]?["name"] == "ada")

            // GET ?wait=true answers once the execution has ended.
            let second = try await client.call(
                .post,
                "/tenants/acme/workflows",
                body: #"{"workflow_name": "broken"}"#
            )
            let other = try #require(second.json?["execution_id"]?.stringValue)
            let waited = try await client.call(.get, "/tenants/acme/executions/\(other)?wait=true")
            #expect(waited.status == .ok)
            #expect(waited.json?["status"] == "Failed")
            #expect(waited.json?["completed_at"]?.intValue != nil)
            let invalid = try await client.call(.get, "/tenants/acme/executions/\(other)?wait=soon")
            #expect(invalid.status == .badRequest)
        }
    }

    @Test("POST …/cancel stops a running execution (202), is 409 once it ended and 404 for an unknown one; …/events")
    func cancelAndEvents() async throws {
        try await APIHarness("cancel").run { client in
            let started = try await client.call(.post, "/tenants/acme/workflows", body: #"{"workflow_name": "waits"}"#)
            let id = try #require(started.json?["execution_id"]?.stringValue)
            let cancelled = try await client.call(.post, "/tenants/acme/executions/\(id)/cancel")
            #expect(cancelled.status == .accepted, "\(cancelled.text)")
            #expect(cancelled.json?["execution_id"]?.stringValue == id)
            #expect(cancelled.json?["cancel_pending"]?.boolValue != nil)
            let ended = try await client.call(.get, "/tenants/acme/executions/\(id)?wait=true")
            #expect(ended.json?["status"] == "Cancelled", "\(ended.text)")

            let again = try await client.call(.post, "/tenants/acme/executions/\(id)/cancel")
            #expect(again.status == .conflict)
            #expect(again.error?.contains("already ended (Cancelled)") == true, "\(again.text)")
            let unknown = try await client.call(.post, "/tenants/acme/executions/no-such-id/cancel")
            #expect(unknown.status == .notFound)
            // Tenants stay apart: another tenant's id is unknown here.
            let elsewhere = try await client.call(.post, "/tenants/globex/executions/\(id)/cancel")
            #expect(elsewhere.status == .notFound)

            let history = try await client.call(.get, "/tenants/acme/executions/\(id)/events")
            #expect(history.status == .ok)
            let kinds = history.json?["events"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
            #expect(kinds.first == "execution_created" && kinds.last == "execution_cancelled", "\(kinds)")
            #expect(kinds.contains("task_started"), "\(kinds)")
            let sequences = history.json?["events"]?.arrayValue?.compactMap { $0["sequence"]?.intValue } ?? []
            #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count)
            let firstPage = try await client.call(.get, "/tenants/acme/executions/\(id)/events?limit=2")
            #expect(
                firstPage.json?["events"]?.arrayValue?.compactMap { $0["sequence"]?.intValue }
                    == Array(sequences.prefix(2))
            )
            let after = try #require(firstPage.json?["next_after"]?.intValue)
            let rest = try await client.call(.get, "/tenants/acme/executions/\(id)/events?after=\(after)")
            #expect(
                rest.json?["events"]?.arrayValue?.compactMap { $0["sequence"]?.intValue }
                    == Array(sequences.dropFirst(2))
            )
            #expect(rest.json?["next_after"]?.isNull == true)
            // Followed as Server-Sent Events: an ended execution's whole history, then the stream closes.
            let stream = try await client.call(.get, "/tenants/acme/executions/\(id)/events?follow=true")
            #expect(stream.status == .ok)
            #expect(stream.headers[.contentType] == "text/event-stream")
            let frames = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(frames.count == sequences.count)
            #expect(frames.last?.hasPrefix("id: \(sequences.last ?? -1)\nevent: execution_cancelled\ndata: {") == true)
            let resumed = try await client.call(
                .get,
                "/tenants/acme/executions/\(id)/events?follow=true",
                headers: [HTTPField.Name("Last-Event-ID")!: "\(sequences[sequences.count - 2])"]
            )
            #expect(resumed.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.count == 1, "\(resumed.text)")
            let badResume = try await client.call(
                .get,
                "/tenants/acme/executions/\(id)/events?follow=true",
                headers: [HTTPField.Name("Last-Event-ID")!: "soon"]
            )
            #expect(badResume.status == .badRequest)
            #expect(try await client.call(.get, "/tenants/acme/executions/nope/events?follow=true").status == .notFound)
            for bad in ["limit=0", "limit=10001", "after=-1", "after=x"] {
                let refused = try await client.call(.get, "/tenants/acme/executions/\(id)/events?\(bad)")
                #expect(refused.status == .badRequest, "\(bad): \(refused.text)")
            }
            let missing = try await client.call(.get, "/tenants/acme/executions/no-such-id/events")
            #expect(missing.status == .notFound)
        }
    }

    @Test("GET …/tasks/{task}/logs pages a task's stored lines with level and attempt; 404 and 400 otherwise")
    func taskLogs() async throws {
        try await APIHarness("logs").run { client in
            let answer = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "greet", "context": {"name": "ada"}}"#
            )
            let id = try #require(answer.json?["execution_id"]?.stringValue)
            let logs = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/hello/logs")
            #expect(logs.status == .ok, "\(logs.text)")
            let lines = logs.json?["lines"]?.arrayValue ?? []
            #expect(
                lines.compactMap { $0["message"]?.stringValue } == [
                    "greeting ada", "connecting with password=*** host=db",
                ]
            )
            #expect(lines.compactMap { $0["level"]?.stringValue } == ["info", "warning"])
            #expect(lines.allSatisfy { $0["attempt"] == 1 && $0["task"] == "hello" && $0["at"]?.intValue != nil })
            #expect(logs.json?["dropped"] == 0 && logs.json?["next_after"]?.isNull == true)
            #expect(logs.json?["execution_id"]?.stringValue == id && logs.json?["task"] == "hello")

            // Paged by sequence number, and filtered by attempt.
            let first = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/hello/logs?limit=1")
            #expect(first.json?["lines"]?.arrayValue?.count == 1)
            let after = try #require(first.json?["next_after"]?.intValue)
            let rest = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/hello/logs?after=\(after)")
            #expect(rest.json?["lines"]?.arrayValue?.compactMap { $0["level"]?.stringValue } == ["warning"])
            let none = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/hello/logs?attempt=2")
            #expect(none.status == .ok && none.json?["lines"]?.arrayValue?.isEmpty == true)
            // Followed as Server-Sent Events: an ended execution's lines, then the stream closes.
            let stream = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/hello/logs?follow=true")
            #expect(stream.status == .ok && stream.headers[.contentType] == "text/event-stream")
            let frames = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(frames.count == 2, "\(stream.text)")
            #expect(frames.first?.hasPrefix("id: \(after)\nevent: log\ndata: {") == true, "\(stream.text)")
            let resumed = try await client.call(
                .get,
                "/tenants/acme/executions/\(id)/tasks/hello/logs?follow=true",
                headers: [HTTPField.Name("Last-Event-ID")!: "\(after)"]
            )
            #expect(resumed.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.count == 1, "\(resumed.text)")
            let unknownFollow = "/tenants/acme/executions/\(id)/tasks/nope/logs?follow=true"
            #expect(try await client.call(.get, unknownFollow).status == .notFound)
            // A task that logged nothing has no lines.
            let quiet = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/shout/logs")
            #expect(quiet.status == .ok && quiet.json?["lines"]?.arrayValue?.isEmpty == true)

            for unknown in [
                "/tenants/acme/executions/\(id)/tasks/nope/logs", "/tenants/acme/executions/nope/tasks/hello/logs",
                "/tenants/globex/executions/\(id)/tasks/hello/logs",
                "/tenants/nobody/executions/\(id)/tasks/hello/logs",
            ] {
                let refused = try await client.call(.get, unknown)
                #expect(refused.status == .notFound, "\(unknown): \(refused.text)")
            }
            for (bad, name) in [
                ("attempt=0", "attempt"), ("attempt=x", "attempt"), ("limit=0", "limit"), ("after=-1", "after"),
            ] {
                let refused = try await client.call(.get, "/tenants/acme/executions/\(id)/tasks/hello/logs?\(bad)")
                #expect(refused.status == .badRequest, "\(bad): \(refused.text)")
                #expect(refused.error?.hasPrefix(name) == true, "\(bad): \(refused.text)")
            }
        }
    }

    @Test("POST …/pause and …/resume answer 202 with the execution, 409 once it ended, 404 for an unknown one")
    func pauseAndResume() async throws {
        try await APIHarness("pause").run { client in
            let started = try await client.call(.post, "/tenants/acme/workflows", body: #"{"workflow_name": "waits"}"#)
            let id = try #require(started.json?["execution_id"]?.stringValue)
            let paused = try await client.call(.post, "/tenants/acme/executions/\(id)/pause")
            #expect(paused.status == .accepted, "\(paused.text)")
            #expect(paused.json?["paused"] == true)
            #expect(try await client.call(.get, "/tenants/acme/executions/\(id)").json?["paused"] == true)
            let resumed = try await client.call(.post, "/tenants/acme/executions/\(id)/resume")
            #expect(resumed.status == .accepted, "\(resumed.text)")
            #expect(resumed.json?["paused"] == false)
            _ = try await client.call(.post, "/tenants/acme/executions/\(id)/cancel")
            #expect(
                try await client.call(.get, "/tenants/acme/executions/\(id)?wait=true").json?["status"] == "Cancelled"
            )

            let ended = try await client.call(.post, "/tenants/acme/executions/\(id)/pause")
            #expect(ended.status == .conflict, "\(ended.text)")
            #expect(try await client.call(.post, "/tenants/acme/executions/\(id)/resume").status == .conflict)
            #expect(try await client.call(.post, "/tenants/acme/executions/no-such-id/pause").status == .notFound)
            #expect(try await client.call(.post, "/tenants/globex/executions/\(id)/resume").status == .notFound)
            let kinds =
                try await client.call(.get, "/tenants/acme/executions/\(id)/events").json?["events"]?
                .arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
            #expect(kinds.contains("execution_paused") && kinds.contains("execution_unpaused"), "\(kinds)")
        }
    }

    @Test("POST …/retry and …/rerun answer 201 with the new execution linked to its origin; 409 and 404 otherwise")
    func retryAndRerun() async throws {
        try await APIHarness("retry").run { client in
            let failed = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "broken"}"#
            )
            let origin = try #require(failed.json?["execution_id"]?.stringValue)
            let retry = try await client.call(.post, "/tenants/acme/executions/\(origin)/retry")
            #expect(retry.status == .created, "\(retry.text)")
            #expect(retry.json?["retry_of"]?.stringValue == origin)
            let retryID = try #require(retry.json?["execution_id"]?.stringValue)
            #expect(retry.headers[.location] == "/tenants/acme/executions/\(retryID)")
            let retried = try await client.call(.get, "/tenants/acme/executions/\(retryID)?wait=true")
            #expect(retried.json?["status"] == "Failed")
            #expect(retried.json?["retry_of"]?.stringValue == origin)

            let done = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "greet", "context": {"name": "ada"}}"#
            )
            let completed = try #require(done.json?["execution_id"]?.stringValue)
            let noFailure = try await client.call(.post, "/tenants/acme/executions/\(completed)/retry")
            #expect(noFailure.status == .conflict, "\(noFailure.text)")
            let rerun = try await client.call(.post, "/tenants/acme/executions/\(completed)/rerun?latest=true")
            #expect(rerun.status == .created, "\(rerun.text)")
            #expect(rerun.json?["rerun_of"]?.stringValue == completed)
            let rerunID = try #require(rerun.json?["execution_id"]?.stringValue)
            let again = try await client.call(.get, "/tenants/acme/executions/\(rerunID)?wait=true")
            #expect(again.json?["final_context"]?["shouted"] == "HELLO ADA", "\(again.text)")

            #expect(try await client.call(.post, "/tenants/acme/executions/no-such-id/retry").status == .notFound)
            #expect(try await client.call(.post, "/tenants/globex/executions/\(origin)/rerun").status == .notFound)
            let badFlag = try await client.call(.post, "/tenants/acme/executions/\(origin)/retry?latest=maybe")
            #expect(badFlag.status == .badRequest)
        }
    }

    @Test("?wait=true answers 200 with the full result, the keys of `cloacina run --output json`")
    func waitForResult() async throws {
        try await APIHarness("wait").run { client in
            let answer = try await client.call(
                .post,
                "/tenants/globex/workflows?wait=true",
                body: #"{"workflow_name": "greet"}"#
            )
            #expect(answer.status == .ok)
            let result = try #require(answer.json?.objectValue)
            #expect(Set(result.keys) == Self.resultKeys)
            #expect(result["status"] == "Completed")
            #expect(result["tenant"] == "globex")
            #expect(result["workflow"] == "greet")
            #expect(result["final_context"]?["shouted"] == "HELLO WORLD")
            #expect(result["error"] == .null)
            let tasks = try #require(result["tasks"]?.arrayValue)
            #expect(tasks.map { $0["id"] } == ["hello", "shout"])
            #expect(tasks.allSatisfy { $0["status"] == "Completed" && $0["attempts"] == 1 })
            #expect(
                Set(tasks.first?.objectValue?.keys ?? [:].keys) == ["id", "status", "attempts", "error", "duration_ms"]
            )

            // GET answers the same document.
            let id = try #require(result["execution_id"]?.stringValue)
            let read = try await client.call(.get, "/tenants/globex/executions/\(id)")
            #expect(read.status == .ok)
            #expect(read.json == answer.json)

            let explicit = try await client.call(
                .post,
                "/tenants/globex/workflows?wait=false",
                body: #"{"workflow_name": "greet"}"#
            )
            #expect(explicit.status == .accepted)
            let invalid = try await client.call(
                .post,
                "/tenants/globex/workflows?wait=maybe",
                body: #"{"workflow_name": "greet"}"#
            )
            #expect(invalid.status == .badRequest)
            #expect(invalid.error?.contains("wait") == true)
        }
    }

    @Test("a failing workflow is reported Failed, with the task's error and its dependent skipped")
    func failingWorkflow() async throws {
        try await APIHarness("failing").run { client in
            let answer = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "broken", "context": {}}"#
            )
            #expect(answer.status == .ok)
            let result = try #require(answer.json)
            #expect(result["status"] == "Failed")
            #expect(result["error"]?.isNull == false)
            let tasks = try #require(result["tasks"]?.arrayValue)
            let fail = try #require(tasks.first { $0["id"] == "fail" })
            #expect(fail["status"] == "Failed")
            #expect(fail["error"]?.stringValue?.contains("no luck today") == true)
            #expect(tasks.first { $0["id"] == "after" }?["status"] == "Skipped")
        }
    }

    @Test("listing filters by status (case-insensitive) and workflow, pages, and counts the total")
    func listing() async throws {
        try await APIHarness("listing").run { client in
            for workflow in ["greet", "greet", "broken", "greet"] {
                let answer = try await client.call(
                    .post,
                    "/tenants/acme/workflows?wait=true",
                    body: #"{"workflow_name": "\#(workflow)"}"#
                )
                #expect(answer.status == .ok)
            }
            let all = try await client.call(.get, "/tenants/acme/executions")
            #expect(all.status == .ok)
            #expect(all.json?["total"] == 4)
            #expect(all.json?["limit"] == 50)
            #expect(all.json?["offset"] == 0)
            let summaries = try #require(all.json?["executions"]?.arrayValue)
            #expect(summaries.count == 4)
            #expect(summaries.allSatisfy { Set($0.objectValue?.keys ?? [:].keys) == Self.summaryKeys })

            let failed = try await client.call(.get, "/tenants/acme/executions?status=failed")
            #expect(failed.json?["total"] == 1)
            #expect(failed.json?["executions"]?[0]?["workflow"] == "broken")
            #expect(failed.json?["executions"]?[0]?["status"] == "Failed")

            let both = try await client.call(.get, "/tenants/acme/executions?status=Completed&status=FAILED")
            #expect(both.json?["total"] == 4)
            let commas = try await client.call(.get, "/tenants/acme/executions?status=completed,running")
            #expect(commas.json?["total"] == 3)
            let greet = try await client.call(.get, "/tenants/acme/executions?workflow=greet&status=Completed")
            #expect(greet.json?["total"] == 3)
            #expect(greet.json?["executions"]?.arrayValue?.allSatisfy { $0["workflow"] == "greet" } == true)

            let first = try await client.call(.get, "/tenants/acme/executions?limit=2")
            let second = try await client.call(.get, "/tenants/acme/executions?limit=2&offset=2")
            #expect(first.json?["total"] == 4 && second.json?["total"] == 4)
            #expect(first.json?["limit"] == 2 && second.json?["offset"] == 2)
            let pages = [first, second].flatMap { $0.json?["executions"]?.arrayValue ?? [] }
            #expect(pages.count == 4)
            #expect(Set(pages.compactMap { $0["execution_id"]?.stringValue }).count == 4)
            let beyond = try await client.call(.get, "/tenants/acme/executions?offset=10")
            #expect(beyond.json?["executions"] == [])
            #expect(beyond.json?["total"] == 4)

            // Pages by cursor: each page's next_cursor leads to the next, the last page's is null.
            var seen: [String] = []
            var path = "/tenants/acme/executions?limit=3&total=none"
            while true {
                let page = try await client.call(.get, path)
                #expect(page.status == .ok && page.json?["total"] == .null)
                seen += page.json?["executions"]?.arrayValue?.compactMap { $0["execution_id"]?.stringValue } ?? []
                guard let cursor = page.json?["next_cursor"]?.stringValue else { break }
                path = "/tenants/acme/executions?limit=3&total=none&cursor=\(cursor)"
            }
            #expect(seen == (all.json?["executions"]?.arrayValue ?? []).compactMap { $0["execution_id"]?.stringValue })
            #expect(try await client.call(.get, "/tenants/acme/executions?total=exact").json?["total"] == 4)
        }
    }

    @Test(
        "invalid listing parameters are a 400 naming the parameter",
        arguments: [
            ("status=bogus", "status"), ("status=", "status"), ("limit=0", "limit"), ("limit=1001", "limit"),
            ("limit=ten", "limit"), ("offset=-1", "offset"), ("offset=x", "offset"), ("workflow=", "workflow"),
            ("cursor=nonsense", "cursor"), ("cursor=-5.x", "cursor"), ("cursor=1.x&offset=2", "cursor or offset"),
            ("total=maybe", "total"),
        ]
    )
    func invalidListing(query: String, parameter: String) async throws {
        try await APIHarness("listing-invalid").run { client in
            let answer = try await client.call(.get, "/tenants/acme/executions?\(query)")
            #expect(answer.status == .badRequest)
            #expect(answer.error?.contains(parameter) == true, "\(answer.text)")
        }
    }

    @Test("an execution of one tenant is not found under another")
    func tenantIsolation() async throws {
        try await APIHarness("isolation").run { client in
            let answer = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "greet"}"#
            )
            let id = try #require(answer.json?["execution_id"]?.stringValue)
            #expect(try await client.call(.get, "/tenants/acme/executions/\(id)").status == .ok)
            let other = try await client.call(.get, "/tenants/globex/executions/\(id)")
            #expect(other.status == .notFound)
            #expect(other.error != nil)
            let listed = try await client.call(.get, "/tenants/globex/executions")
            #expect(listed.json?["total"] == 0)
        }
    }

    @Test(
        "a body that is not a valid submission is a 400 with a JSON error",
        arguments: [
            ("", "empty"),
            ("{", "malformed JSON"),
            (#"{"workflow_name": "greet",}"#, "malformed JSON"),
            ("[1, 2]", "JSON object"),
            (#""greet""#, "JSON object"),
            ("null", "JSON object"),
            (#"{"context": {}}"#, "workflow_name"),
            (#"{"workflow_name": ""}"#, "workflow_name"),
            (#"{"workflow_name": 42}"#, "workflow_name"),
            (#"{"workflow_name": null}"#, "workflow_name"),
            (#"{"workflow_name": "greet", "context": [1]}"#, "context"),
            (#"{"workflow_name": "greet", "context": "x"}"#, "context"),
            (#"{"workflow_name": "greet", "contxt": {}}"#, "contxt"),
            ("\u{FEFF}{\"workflow_name\": \"gr\\ud800eet\"}", "malformed JSON"),
        ]
    )
    func invalidBodies(body: String, mentions: String) async throws {
        try await APIHarness("bodies").run { client in
            let answer = try await client.call(.post, "/tenants/acme/workflows", body: body)
            #expect(answer.status == .badRequest)
            #expect(answer.contentType == "application/json")
            #expect(answer.error?.contains(mentions) == true, "\(answer.text)")
        }
    }

    @Test("bytes that are not UTF-8, and nesting deeper than the parser allows, are a 400, not a crash")
    func hostileBodies() async throws {
        try await APIHarness("hostile").run { client in
            var bytes = Array(#"{"workflow_name": "gr"#.utf8)
            bytes += [0xFF, 0xFE]
            bytes += Array(#"eet"}"#.utf8)
            let utf8 = try await client.execute(
                uri: "/tenants/acme/workflows",
                method: .post,
                body: ByteBuffer(bytes: bytes)
            ) { $0.status }
            #expect(utf8 == .badRequest)

            let depth = JSONValue.maximumNestingDepth * 200
            let array = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let nested = #"{"workflow_name": "greet", "context": {"deep": \#(array)}}"#
            let deep = try await client.call(.post, "/tenants/acme/workflows", body: nested)
            #expect(deep.status == .badRequest)
            #expect(deep.error?.contains("malformed JSON") == true)
        }
    }

    @Test("unknown tenants, workflows, executions and routes are 404; an invalid tenant id is 400")
    func notFound() async throws {
        try await APIHarness("not-found").run { client in
            let submit = #"{"workflow_name": "greet"}"#
            let tenant = try await client.call(.post, "/tenants/initech/workflows", body: submit)
            #expect(tenant.status == .notFound)
            #expect(tenant.error?.contains("initech") == true)
            #expect(try await client.call(.get, "/tenants/initech/executions").status == .notFound)
            #expect(try await client.call(.get, "/tenants/initech/executions/x").status == .notFound)

            let invalid = try await client.call(.post, "/tenants/bad.tenant/workflows", body: submit)
            #expect(invalid.status == .badRequest)
            #expect(invalid.error?.contains("bad.tenant") == true)
            #expect(try await client.call(.get, "/tenants/-x/executions").status == .badRequest)

            let workflow = try await client.call(
                .post,
                "/tenants/acme/workflows",
                body: #"{"workflow_name": "nope"}"#
            )
            #expect(workflow.status == .notFound)
            #expect(workflow.error?.contains("nope") == true)
            let waited = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "nope"}"#
            )
            #expect(waited.status == .notFound)

            let execution = try await client.call(.get, "/tenants/acme/executions/0f6e1a2b-no-such-execution")
            #expect(execution.status == .notFound)
            #expect(execution.error != nil)

            // (A known path with another method is a 405: see methodNotAllowed.)
            for (method, path) in [
                (HTTPRequest.Method.get, "/nope"), (.delete, "/health/now"), (.get, "/tenants/acme"),
            ] {
                let route = try await client.call(method, path)
                #expect(route.status == .notFound)
                #expect(route.contentType == "application/json")
                #expect(route.error?.contains(path) == true, "\(route.text)")
            }
        }
    }

    @Test("a body larger than the limit is refused with 413; one at the limit is accepted")
    func bodyLimit() async throws {
        let base = #"{"workflow_name": "greet", "context": {"pad": ""}}"#
        let limit = base.utf8.count + 10
        try await APIHarness("body-limit").run(maxBodyBytes: limit) { client in
            let fits = #"{"workflow_name": "greet", "context": {"pad": "\#(String(repeating: "x", count: 10))"}}"#
            #expect(fits.utf8.count == limit)
            #expect(try await client.call(.post, "/tenants/acme/workflows", body: fits).status == .accepted)

            let large = #"{"workflow_name": "greet", "context": {"pad": "\#(String(repeating: "x", count: 11))"}}"#
            let answer = try await client.call(.post, "/tenants/acme/workflows", body: large)
            #expect(answer.status == .contentTooLarge)
            #expect(answer.error?.contains("\(limit)") == true)
            let huge = String(repeating: "x", count: 4 << 20)
            #expect(try await client.call(.post, "/tenants/acme/workflows", body: huge).status == .contentTooLarge)
        }
    }

    @Test("/ready is 503 before start and after drain, 200 while serving; /health is always 200; intake is 503")
    func readiness() async throws {
        let harness = try APIHarness("ready")
        try await harness.run(start: false) { client in
            let starting = try await client.call(.get, "/ready")
            #expect(starting.status == .serviceUnavailable)
            #expect(starting.json?["status"] == "starting")
            #expect(try await client.call(.get, "/health").json == ["status": "ok"])
            let early = try await client.call(.post, "/tenants/acme/workflows", body: #"{"workflow_name": "greet"}"#)
            #expect(early.status == .serviceUnavailable)

            try await harness.daemon.start()
            let ready = try await client.call(.get, "/ready")
            #expect(ready.status == .ok)
            #expect(ready.json == ["status": "ready", "unavailable_tenants": []])

            await harness.daemon.drain()
            let stopped = try await client.call(.get, "/ready")
            #expect(stopped.status == .serviceUnavailable)
            #expect(stopped.json?["status"] == "stopped")
            let health = try await client.call(.get, "/health")
            #expect(health.status == .ok)
            #expect(health.json == ["status": "ok"])
        }
    }

    @Test("after drain, starting an execution is refused with 503")
    func drainingRefusesIntake() async throws {
        let harness = try APIHarness("drain")
        try await harness.run { client in
            await harness.daemon.drain()
            for uri in ["/tenants/acme/workflows", "/tenants/acme/workflows?wait=true"] {
                let answer = try await client.call(.post, uri, body: #"{"workflow_name": "greet"}"#)
                #expect(answer.status == .serviceUnavailable)
                #expect(answer.error?.contains("shutting down") == true, "\(answer.text)")
            }
        }
    }

    @Test("/metrics is Prometheus text and counts executions")
    func metrics() async throws {
        try await APIHarness("metrics").run { client in
            let run = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "greet"}"#
            )
            #expect(run.status == .ok)
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.contentType == "text/plain; version=0.0.4")
            #expect(metrics.text.contains("cloacina_executions_total"))
            #expect(metrics.text.contains(#"tenant="acme""#))
        }
    }

    @Test("/workflows lists what is served; POST /admin/reload returns the reload report")
    func workflowsAndReload() async throws {
        try await APIHarness("reload").run { client in
            let workflows = try await client.call(.get, "/workflows")
            #expect(workflows.status == .ok)
            #expect(workflows.json?["generation"]?.intValue != nil)
            let host = try #require(workflows.json?["host"]?.arrayValue)
            #expect(
                host.contains { $0["name"] == "http-api-tests" && $0["workflows"] == ["greet", "broken", "waits"] }
            )

            let reload = try await client.call(.post, "/admin/reload")
            #expect(reload.status == .ok)
            #expect(reload.contentType == "application/json")
            let generation = try #require(reload.json?["generation"]?.intValue)
            #expect(generation >= 1)
            #expect(reload.json?["failed"] == [])
            #expect(reload.json?["error"] == .null)
        }
    }

    @Test("each request is logged at debug with method, path and status; bodies never are")
    func requestLogging() async throws {
        let capture = LogCapture()
        try await APIHarness("logging").run(logger: capture.logger) { client in
            let secret = "s3cret-token-\(Int.random(in: 1000...9999))"
            let answer = try await client.call(
                .post,
                "/tenants/acme/workflows",
                body: #"{"workflow_name": "greet", "context": {"password": "\#(secret)"}}"#
            )
            #expect(answer.status == .accepted)
            _ = try await client.call(.get, "/nope")
            let records = capture.records
            #expect(
                records.contains {
                    $0.level == .debug && $0.metadata["method"] == "POST"
                        && $0.metadata["path"] == "/tenants/acme/workflows" && $0.metadata["status"] == "202"
                }
            )
            #expect(records.contains { $0.metadata["path"] == "/nope" && $0.metadata["status"] == "404" })
            let leaked = records.filter { record in
                record.message.contains(secret) || record.metadata.values.contains { $0.contains(secret) }
            }
            #expect(leaked.isEmpty)
        }
    }
}
