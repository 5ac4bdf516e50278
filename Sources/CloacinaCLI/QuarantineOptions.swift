import ArgumentParser
import CloacinaDaemon

/// When `cloacina serve` quarantines a package version whose tasks keep killing worker processes (see
/// `QuarantineRule`). Each setting comes from its flag, else its environment variable, else the default.
struct QuarantineOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Worker crashes within --quarantine-window that quarantine a package version (new executions refused); 0 never quarantines (default: $CLOACINA_QUARANTINE_CRASHES, else 5).",
            valueName: "n"
        )
    )
    var quarantineCrashes: Int?

    @Option(
        help: ArgumentHelp(
            "Seconds in which --quarantine-crashes crashes quarantine a version (default: $CLOACINA_QUARANTINE_WINDOW_SECONDS, else 300).",
            valueName: "seconds"
        )
    )
    var quarantineWindow: Double?

    /// The rule these options describe.
    func rule() throws -> QuarantineRule {
        var rule = QuarantineRule()
        if let crashes = try IsolationOptions.count(
            quarantineCrashes,
            "CLOACINA_QUARANTINE_CRASHES",
            flag: "--quarantine-crashes"
        ) {
            rule.crashes = crashes
        }
        if let window = try IsolationOptions.seconds(
            quarantineWindow,
            "CLOACINA_QUARANTINE_WINDOW_SECONDS",
            flag: "--quarantine-window"
        ) {
            guard window > .zero else { throw UsageError(message: "--quarantine-window must be above 0 seconds") }
            rule.window = window
        }
        return rule
    }
}
