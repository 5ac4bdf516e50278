/// Which execution a new one retries from its failure or runs again from the start (neither for a plain start).
struct ExecutionLineage: Sendable, Hashable {
    var retryOf: String?
    var rerunOf: String?
}
