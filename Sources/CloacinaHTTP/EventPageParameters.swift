internal import Hummingbird

/// The query of `GET …/executions/{id}/events`: `after` (a sequence number: only later events; default 0, all)
/// and `limit` (1...10000, default 1000). Anything else in range is refused with a 400 naming the parameter.
struct EventPageParameters: Sendable {
    static let limits = 1...10_000
    static let defaultLimit = 1000

    let after: Int64
    let limit: Int

    init(_ parameters: Parameters) throws(APIError) {
        let after = try ListingParameters.integer("after", parameters, default: 0)
        guard after >= 0 else { throw APIError(.badRequest, "after must not be negative, not \(after)") }
        let limit = try ListingParameters.integer("limit", parameters, default: Self.defaultLimit)
        guard Self.limits.contains(limit) else {
            throw APIError(
                .badRequest,
                "limit must be between \(Self.limits.lowerBound) and \(Self.limits.upperBound), not \(limit)"
            )
        }
        self.after = Int64(after)
        self.limit = limit
    }
}
