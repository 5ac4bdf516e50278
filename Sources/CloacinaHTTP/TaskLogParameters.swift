internal import Hummingbird

/// The query of `GET …/executions/{id}/tasks/{task}/logs`: `attempt` (1 or more: only that attempt's lines; default
/// all), and `after` and `limit` as for events (``EventPageParameters``). Anything else in range is refused with a
/// 400 naming the parameter.
struct TaskLogParameters: Sendable {
    let attempt: Int?
    let page: EventPageParameters

    init(_ parameters: Parameters) throws(APIError) {
        page = try EventPageParameters(parameters)
        guard parameters["attempt"] != nil else {
            attempt = nil
            return
        }
        let attempt = try ListingParameters.integer("attempt", parameters, default: 1)
        guard (1...Int(Int32.max)).contains(attempt) else {
            throw APIError(.badRequest, "attempt must be 1 to \(Int32.max), not \(attempt)")
        }
        self.attempt = attempt
    }
}
