// Definitions (retry policies, trigger rules), JSON values and the storage records and statuses are part of the
// engine's API.
@_exported public import CloacinaJSON
@_exported public import CloacinaModel
@_exported public import CloacinaStorage
