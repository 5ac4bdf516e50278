import Cloacina
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// What schemathesis found against the OpenAPI document (`scripts/api-check.sh`), kept as regressions.
extension HTTPAPITests {
    @Test("a route's path with a method it does not answer is a 405 naming the methods in Allow; other paths 404")
    func methodNotAllowed() async throws {
        try await APIHarness("method-not-allowed").run { client in
            let trace = try await client.call(.trace, "/health")
            #expect(trace.status == .methodNotAllowed, "\(trace.text)")
            #expect(trace.headers[.allow] == "GET")
            #expect(trace.contentType == "application/json")
            #expect(trace.error == "/health does not answer TRACE (only GET)")

            let put = try await client.call(.put, "/tenants/acme/executions/some-id/cancel")
            #expect(put.status == .methodNotAllowed)
            #expect(put.headers[.allow] == "POST")
            let delete = try await client.call(.delete, "/tenants/acme/executions/some-id")
            #expect(delete.status == .methodNotAllowed && delete.headers[.allow] == "GET")

            let unknown = try await client.call(.get, "/tenants/acme/nothing-here")
            #expect(unknown.status == .notFound && unknown.headers[.allow] == nil)
            #expect(unknown.error == "no route GET /tenants/acme/nothing-here")
        }
    }

    @Test(
        "a cursor is read as the document's pattern says: 1 to 18 digits, a dot, an id of 1 to 200 characters",
        arguments: [
            ("", false), ("5", false), ("5.", false), ("+5.x", false), ("-0.x", false),
            ("1234567890123456789.x", false),
            ("123456789012345678.x", true), ("0.x", true), ("5.a.b", true),
            ("5." + String(repeating: "é", count: 200), true), ("5." + String(repeating: "é", count: 201), false),
        ]
    )
    func cursorPattern(token: String, valid: Bool) async throws {
        try await APIHarness("cursor-pattern").run { client in
            let query = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token
            let answer = try await client.call(.get, "/tenants/acme/executions?cursor=\(query)")
            #expect(answer.status == (valid ? .ok : .badRequest), "\(token): \(answer.text)")
        }
    }

    @Test(
        "a listing's workflow must be a workflow name and a cursor's id holds no NUL: 400 on every backend, never 500",
        arguments: [
            ("workflow=a%00b", "workflow"), ("workflow=-greet", "workflow"), ("workflow=gr%C3%A9et", "workflow"),
            ("workflow=" + String(repeating: "g", count: 129), "workflow"), ("cursor=5.a%00b", "cursor"),
        ]
    )
    func listingRefusesWhatNoStoreHolds(query: String, parameter: String) async throws {
        try await APIHarness("listing-nul").run { client in
            let answer = try await client.call(.get, "/tenants/acme/executions?\(query)")
            #expect(answer.status == .badRequest, "\(answer.text)")
            #expect(answer.error?.hasPrefix(parameter) == true, "\(answer.text)")
            let valid = try await client.call(
                .get,
                "/tenants/acme/executions?workflow=" + String(repeating: "g", count: 128)
            )
            #expect(valid.status == .ok && valid.json?["executions"] == [])
        }
    }
}
