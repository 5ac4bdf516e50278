internal import Cloacina
internal import Hummingbird

/// The body of `POST /tenants/{tenant}/workflows`: `{"workflow_name": "<name>", "context": {...}}`.
///
/// Checks the shape only (an object with a non-empty `workflow_name` string and an optional object `context`,
/// no other keys); whether the workflow exists is the daemon's answer. The body is parsed once: the context goes on
/// as the parsed object.
struct SubmitRequest: Sendable {
    static let keys: Set<String> = ["workflow_name", "context"]

    var workflow: String
    /// The context object; empty when the body has none (or `null`).
    var context: [String: JSONValue]

    /// Parses `body`; throws a 400 ``APIError`` naming what is wrong.
    init(parsing body: [UInt8]) throws(APIError) {
        let object = try Self.object(body, expecting: "workflow_name")
        if let unknown = object.keys.filter({ !Self.keys.contains($0) }).sorted().first {
            throw APIError(.badRequest, "unknown field \"\(unknown)\" (expected workflow_name and context)")
        }
        guard let name = object["workflow_name"] else {
            throw APIError(.badRequest, "workflow_name is required")
        }
        guard let workflow = name.stringValue else {
            throw APIError(.badRequest, "workflow_name must be a string, not \(name.kindName)")
        }
        guard !workflow.isEmpty else {
            throw APIError(.badRequest, "workflow_name must not be empty")
        }
        self.workflow = workflow
        switch object["context"] {
        case nil, .null?:
            context = [:]
        case .object(let object)?:
            context = object
        case let context?:
            throw APIError(.badRequest, "context must be a JSON object, not \(context.kindName)")
        }
    }
}

extension SubmitRequest {
    /// A request body that must be a JSON object (one with `fields`, the message says when it is empty); a 400
    /// naming what is wrong otherwise. The one reader of the API's JSON bodies.
    static func object(_ body: [UInt8], expecting fields: String) throws(APIError) -> [String: JSONValue] {
        guard !body.isEmpty else {
            throw APIError(.badRequest, "the request body is empty; expected a JSON object with \(fields)")
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: body)
        } catch {
            throw APIError(.badRequest, "malformed JSON: \(error)")
        }
        guard let object = value.objectValue else {
            throw APIError(.badRequest, "the request body must be a JSON object, not \(value.kindName)")
        }
        return object
    }
}
