internal import Cloacina
internal import Hummingbird

/// The query of `GET /tenants/{tenant}/executions`: `status` (repeated or comma-separated, case-insensitive),
/// `workflow` (a name by ``NameRule``), `limit` (1...1000, default 50), then either `cursor` (the `next_cursor` of the page before) or
/// `offset` (default 0), and `total`: `exact` (count every match), `none` (do not count), or by default an exact
/// count up to ``countedTotal`` matches (null beyond), so that a page costs the same whatever the history's size.
///
/// Every invalid value is a 400 naming its parameter; parameters it does not know are ignored.
struct ListingParameters: Sendable {
    static let defaultLimit = 50
    static let limits = 1...1000
    /// The most matches the default `total` counts.
    static let countedTotal = 1000

    enum Total: String {
        case exact, none, counted
    }

    var query: ExecutionQuery
    var total: Total

    init(_ parameters: Parameters) throws(APIError) {
        var statuses: Set<ExecutionStatus> = []
        for value in parameters[values: "status"] {
            for name in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = name.trimmingSpaces.lowercased()
                guard let status = ExecutionStatus.allCases.first(where: { $0.rawValue.lowercased() == trimmed }) else {
                    let names = ExecutionStatus.allCases.map(\.rawValue).joined(separator: ", ")
                    throw APIError(.badRequest, "status: unknown status \"\(name)\" (expected one of \(names))")
                }
                statuses.insert(status)
            }
        }
        var workflow: String?
        if let name = parameters["workflow"] {
            guard !name.isEmpty else { throw APIError(.badRequest, "workflow must not be empty") }
            // No execution has another name; and a store may refuse some characters (PostgreSQL text holds no NUL).
            do throws(DefinitionError) {
                try NameRule.validate(String(name), as: "workflow name")
            } catch {
                throw APIError(.badRequest, "workflow: \(error.message)")
            }
            workflow = String(name)
        }
        let limit = try Self.integer("limit", parameters, default: Self.defaultLimit)
        guard Self.limits.contains(limit) else {
            throw APIError(
                .badRequest,
                "limit must be between \(Self.limits.lowerBound) and \(Self.limits.upperBound), not \(limit)"
            )
        }
        let offset = try Self.integer("offset", parameters, default: 0)
        guard offset >= 0 else { throw APIError(.badRequest, "offset must not be negative, not \(offset)") }
        var after: ExecutionCursor?
        if let token = parameters["cursor"] {
            guard let cursor = ExecutionCursor(token: String(token)) else {
                throw APIError(.badRequest, "cursor must be the next_cursor of an earlier page, not \"\(token)\"")
            }
            guard offset == 0 else { throw APIError(.badRequest, "give cursor or offset, not both") }
            after = cursor
        }
        switch parameters["total"].map(String.init) {
        case nil: total = .counted
        case "exact": total = .exact
        case "none": total = .none
        case let other?: throw APIError(.badRequest, "total must be exact or none, not \"\(other)\"")
        }
        query = ExecutionQuery(statuses: statuses, workflow: workflow, after: after, limit: limit, offset: offset)
    }

    static func integer(
        _ name: String,
        _ parameters: Parameters,
        default value: Int
    ) throws(APIError) -> Int {
        guard let text = parameters[name[...]] else { return value }
        guard let number = Int(text) else {
            throw APIError(.badRequest, "\(name) must be an integer, not \"\(text)\"")
        }
        return number
    }
}

extension Substring {
    /// Without leading and trailing spaces.
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
