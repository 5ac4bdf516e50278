// Definitions (retry policies, trigger rules) and JSON values are part of the engine's API.
@_exported public import CloacinaJSON
@_exported public import CloacinaModel
