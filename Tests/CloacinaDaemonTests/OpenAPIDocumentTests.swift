import Cloacina
import CloacinaTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CloacinaHTTP

/// The API's OpenAPI document (`Sources/CloacinaHTTP/openapi.json`): served as the repository holds it, and describing
/// exactly the routes the API has. What each route answers is checked against it by `scripts/api-check.sh`.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    static let file = "\(TestEnvironment.repositoryRoot)/Sources/CloacinaHTTP/openapi.json"

    static func document() throws -> JSONValue {
        try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
    }

    @Test("GET /openapi.json serves the repository's openapi.json byte for byte (else run scripts/embed-openapi.sh)")
    func servedAsInTheRepository() async throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.file))
        try await APIHarness("openapi").run { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(Data(response.body.readableBytesView) == bytes, "run scripts/embed-openapi.sh")
            }
        }
    }

    @Test("the document has one operation for each route of the API, and no other")
    func everyRouteDocumented() throws {
        let paths = try #require(try Self.document()["paths"]?.objectValue)
        var documented: Set<String> = []
        for (path, item) in paths {
            // `{name}` in the document is `:name` in the router.
            let route = path.replacing(/\{([^}]+)\}/) { ":\($0.1)" }
            for method in (item.objectValue ?? [:]).keys { documented.insert("\(method.uppercased()) \(route)") }
        }
        let served = Set(APIRoutes.table.map { "\($0.method.rawValue) \($0.path)" })
        #expect(documented.subtracting(served).sorted() == [], "documented, but no such route")
        #expect(served.subtracting(documented).sorted() == [], "routes the document does not describe")
    }

    @Test("every operation has an id, a 2xx answer, and JSON error bodies of the one Error schema")
    func operationsAreComplete() throws {
        let document = try Self.document()
        var ids: Set<String> = []
        for (path, item) in try #require(document["paths"]?.objectValue) {
            for (method, operation) in item.objectValue ?? [:] {
                let name = "\(method.uppercased()) \(path)"
                let id = try #require(operation["operationId"]?.stringValue, "\(name) has no operationId")
                #expect(ids.insert(id).inserted, "operationId \(id) is used twice")
                let responses = try #require(operation["responses"]?.objectValue, "\(name) has no responses")
                #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(name) has no 2xx answer")
                for (status, response) in responses where status.hasPrefix("4") || status.hasPrefix("5") {
                    let resolved = try Self.resolve(response, in: document)
                    let schema = resolved["content"]?["application/json"]?["schema"]
                    #expect(
                        schema?["$ref"]?.stringValue == "#/components/schemas/Error" || path == "/ready",
                        "\(name) \(status) is not an Error body"
                    )
                }
            }
        }
    }

    /// `value`, or what its `$ref` points at.
    static func resolve(_ value: JSONValue, in document: JSONValue) throws -> JSONValue {
        guard let reference = value["$ref"]?.stringValue else { return value }
        var target = document
        for key in reference.dropFirst(2).split(separator: "/") {
            target = try #require(target[String(key)], "unresolved \(reference)")
        }
        return target
    }
}
