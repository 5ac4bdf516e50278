internal import Cloacina
internal import Hummingbird

/// The query of `GET /tenants/{tenant}/executions`: `status` (repeated or comma-separated, case-insensitive),
/// `workflow` and `schedule` (names by ``NameRule``: only executions of that workflow, or started by that schedule), `limit` (1...1000, default 50), then either `cursor` (the `next_cursor` of the page before) or
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
        // No execution has names of another form; and a store may refuse some characters (PostgreSQL text holds no
        // NUL).
        let workflow = try Self.name("workflow", parameters, as: "workflow name")
        let schedule = try Self.name("schedule", parameters, as: "schedule id")
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
        query = ExecutionQuery(
            statuses: statuses,
            workflow: workflow,
            scheduleID: schedule,
            after: after,
            limit: limit,
            offset: offset
        )
    }

    /// The query parameter `key`, a name by ``NameRule``; nil when absent, a 400 naming it when not a name.
    private static func name(_ key: String, _ parameters: Parameters, as what: String) throws(APIError) -> String? {
        guard let name = parameters[key[...]] else { return nil }
        guard !name.isEmpty else { throw APIError(.badRequest, "\(key) must not be empty") }
        do throws(DefinitionError) {
            try NameRule.validate(String(name), as: what)
        } catch {
            throw APIError(.badRequest, "\(key): \(error.message)")
        }
        return String(name)
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
