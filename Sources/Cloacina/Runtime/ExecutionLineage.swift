internal import CloacinaStorage

/// Which execution a new one retries from its failure or runs again from the start (neither for a plain start),
/// and which schedule fire time started it.
struct ExecutionLineage: Sendable, Hashable {
    var retryOf: String?
    var rerunOf: String?
    var scheduleID: String?
    var scheduledFor: Timestamp?
}
