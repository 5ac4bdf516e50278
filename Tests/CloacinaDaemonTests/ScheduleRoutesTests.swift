import CloacinaJSON
import Foundation
import HTTPTypes
import Testing

/// The schedule routes under `/tenants/{t}/schedules`, through the router test client.
@Suite("HTTP API schedules")
struct ScheduleRoutesTests {
    @Test("create answers 201 with the schedule; list, show, pause, resume, backfill and delete work; metrics count")
    func lifecycle() async throws {
        try await APIHarness("schedules").run { client in
            let body = #"""
                {"id": "nightly", "workflow": "greet", "cron": "30 2 * * *", "time_zone": "America/New_York",
                 "input": {"name": "cron"}, "catch_up": "all", "catch_up_cap": 5, "overlap": "queue"}
                """#
            let created = try await client.call(.post, "/tenants/acme/schedules", body: body)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.location] == "/tenants/acme/schedules/nightly")
            #expect(created.json?["overlap"] == "queue" && created.json?["catch_up_cap"] == 5)
            #expect(created.json?["next_fire_at"]?.intValue != nil)
            #expect(created.json?["input"]?["name"] == "cron")

            let list = try await client.call(.get, "/tenants/acme/schedules")
            #expect(list.json?["schedules"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["nightly"])
            #expect(try await client.call(.get, "/tenants/globex/schedules").json?["schedules"] == .array([]))
            #expect(try await client.call(.get, "/tenants/globex/schedules/nightly").status == .notFound)

            let paused = try await client.call(.post, "/tenants/acme/schedules/nightly/pause")
            #expect(paused.status == .ok && paused.json?["paused"] == true && paused.json?["next_fire_at"] == .null)
            let refused = try await client.call(
                .post,
                "/tenants/acme/schedules/nightly/backfill",
                body: #"{"from": "2026-01-01", "through": "2026-01-03"}"#
            )
            #expect(refused.status == .conflict, "\(refused.text)")
            #expect(try await client.call(.post, "/tenants/acme/schedules/nightly/resume").json?["paused"] == false)

            let backfill = try await client.call(
                .post,
                "/tenants/acme/schedules/nightly/backfill",
                body: #"{"from": "2026-01-01", "through": "2026-01-03T23:59:59Z"}"#
            )
            #expect(backfill.status == .created, "\(backfill.text)")
            let ids = backfill.json?["execution_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(ids.count == 3)
            for id in ids {
                let ended = try await client.waitUntilEnded(tenant: "acme", id: id)
                #expect(ended["status"] == "Completed" && ended["schedule_id"] == "nightly", "\(ended)")
                #expect(ended["final_context"]?["greeting"] == "hello cron")
            }
            let listed = try await client.call(.get, "/tenants/acme/executions?schedule=nightly")
            #expect(
                Set(listed.json?["executions"]?.arrayValue?.compactMap { $0["execution_id"]?.stringValue } ?? [])
                    == Set(ids)
            )
            #expect(try await client.call(.get, "/tenants/acme/executions?schedule=other").json?["total"] == 0)
            #expect(try await client.call(.get, "/tenants/acme/executions?schedule=").status == .badRequest)
            #expect(try await client.call(.get, "/tenants/acme/executions?schedule=a%20b").status == .badRequest)
            let again = try await client.call(
                .post,
                "/tenants/acme/schedules/nightly/backfill",
                body: #"{"from": "2026-01-01", "through": "2026-01-03T23:59:59Z"}"#
            )
            #expect(again.json?["execution_ids"] == .array([]))
            let tooLong = try await client.call(
                .post,
                "/tenants/acme/schedules/nightly/backfill",
                body: #"{"from": "2026-01-01", "through": "2026-02-01"}"#
            )
            #expect(tooLong.status == .badRequest && tooLong.text.contains("more than 5"), "\(tooLong.text)")

            let metrics = try await client.call(.get, "/metrics").text
            #expect(
                metrics.contains(#"cloacina_schedule_fires_total{tenant="acme",schedule="nightly"} 3"#),
                "\(metrics)"
            )

            #expect(try await client.call(.delete, "/tenants/acme/schedules/nightly").status == .noContent)
            #expect(try await client.call(.delete, "/tenants/acme/schedules/nightly").status == .notFound)
        }
    }

    @Test("bad schedules are 400s naming what is wrong (404 for an unknown workflow, 409 for a taken id)")
    func badInput() async throws {
        try await APIHarness("schedules-bad").run { client in
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"id": "a", "workflow": "greet", "cron": "* * *"}"#, .badRequest, "fields"),
                (
                    #"{"id": "a", "workflow": "greet", "cron": "@daily", "time_zone": "Nowhere/City"}"#, .badRequest,
                    "Nowhere/City"
                ),
                (
                    #"{"id": "a", "workflow": "greet", "cron": "@daily", "starts_at": 2000, "ends_at": 1000}"#,
                    .badRequest, "before start"
                ),
                (
                    #"{"id": "a", "workflow": "greet", "cron": "@daily", "overlap": "sometimes"}"#, .badRequest,
                    "overlap"
                ),
                (#"{"id": "a", "workflow": "greet", "cron": "@daily", "input": [1]}"#, .badRequest, "input"),
                (#"{"id": "a", "workflow": "greet", "cron": "@daily", "colour": "red"}"#, .badRequest, "colour"),
                (#"{"workflow": "greet", "cron": "@daily"}"#, .badRequest, "id is required"),
                (#"{"id": "a b", "workflow": "greet", "cron": "@daily"}"#, .badRequest, "not a valid name"),
                (#"{"id": "a", "workflow": "nope", "cron": "@daily"}"#, .notFound, "nope"),
                ("[]", .badRequest, "JSON object"),
            ]
            for (body, status, message) in cases {
                let answer = try await client.call(.post, "/tenants/acme/schedules", body: body)
                #expect(answer.status == status, "\(body): \(answer.text)")
                #expect(answer.text.contains(message), "\(body): \(answer.text)")
            }
            #expect(try await client.call(.get, "/tenants/acme/schedules").json?["schedules"] == .array([]))
            let body = #"{"id": "a", "workflow": "greet", "cron": "@daily"}"#
            #expect(try await client.call(.post, "/tenants/acme/schedules", body: body).status == .created)
            #expect(try await client.call(.post, "/tenants/acme/schedules", body: body).status == .conflict)
            #expect(try await client.call(.post, "/tenants/acme/schedules/missing/pause").status == .notFound)
        }
    }
}

extension ScheduleRoutesTests {
    @Test("an attempt number beyond what attempts are stored as is a 400 over HTTP, never a store failure")
    func hugeAttempt() async throws {
        try await APIHarness("logs-attempt").run { client in
            let started = try await client.call(
                .post,
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "greet"}"#
            )
            let id = try #require(started.json?["execution_id"]?.stringValue)
            let huge = try await client.call(
                .get,
                "/tenants/acme/executions/\(id)/tasks/hello/logs?attempt=43423591633"
            )
            #expect(huge.status == .badRequest && huge.text.contains("attempt must be 1 to"), "\(huge.text)")
            let largest = try await client.call(
                .get,
                "/tenants/acme/executions/\(id)/tasks/hello/logs?attempt=2147483647"
            )
            #expect(largest.status == .ok && largest.json?["lines"] == .array([]), "\(largest.text)")
        }
    }
}
