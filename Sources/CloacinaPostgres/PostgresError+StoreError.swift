internal import CloacinaStorage

extension PostgresError {
    /// The error as the storage protocol reports it: connection failures are `unavailable`, integrity violations
    /// (SQLSTATE class 23) `constraint`, a missing schema or table (3F000, 42P01) or a session that could not be
    /// confined to its schema `schema`, a closed store `closed`; a missing privilege (42501) says so plainly.
    var storeError: StoreError {
        if code == .closed { return StoreError(.closed, description) }
        if isConnectionFailure || code == .outcomeUnknown {
            return StoreError(.unavailable, description)
        }
        if code == .invalidIdentifier || code == .scope {
            return StoreError(.schema, description)
        }
        switch sqlState {
        case let state? where state.hasPrefix("23"):
            return StoreError(.constraint, description)
        case "3F000", "42P01", "3D000":
            return StoreError(.schema, description)
        case "42501":
            return StoreError(
                .other,
                "permission denied: the database role lacks a privilege this needs (\(description))"
            )
        default:
            return StoreError(.other, description)
        }
    }
}
