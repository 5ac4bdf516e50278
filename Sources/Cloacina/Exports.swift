// Definitions (retry policies, trigger rules), JSON values, the storage records and statuses, and the cron
// schedule model are part of the engine's API.
@_exported public import CloacinaJSON
@_exported public import CloacinaModel
@_exported public import CloacinaSchedule
@_exported public import CloacinaStorage
