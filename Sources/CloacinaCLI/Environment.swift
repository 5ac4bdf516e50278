import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Defaults the CLI reads from the environment.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }

    /// The drop directory: `CLOACINA_WORKFLOWS_DIR`, else `.cloacina/workflows`.
    static var workflowsDirectory: String {
        value("CLOACINA_WORKFLOWS_DIR") ?? ".cloacina/workflows"
    }

    /// `CLOACINA_LOG_LEVEL` (trace, debug, info, notice, warning, error, critical), nil when unset or unknown.
    static var configuredLogLevel: Logger.Level? {
        value("CLOACINA_LOG_LEVEL").flatMap { Logger.Level(rawValue: $0.lowercased()) }
    }
}
