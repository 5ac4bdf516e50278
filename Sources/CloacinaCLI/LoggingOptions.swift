import ArgumentParser
import Logging

/// `--log-level`, for the commands that run work; logging is set up from it once the command line is parsed.
struct LoggingOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Log level on standard error: trace, debug, info, notice, warning, error or critical (default: "
                + "$CLOACINA_LOG_LEVEL, else warning; `run` and `executions resume` show tasks' own log lines "
                + "at info).",
            valueName: "level"
        ),
        transform: LoggingOptions.level
    )
    var logLevel: Logger.Level?

    static func level(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError(
                "unknown log level \"\(text)\" (trace, debug, info, notice, warning, error, critical)"
            )
        }
        return level
    }
}

/// A command whose logging `--log-level` sets; `showsTaskLogs` when tasks' own lines show by default.
protocol LoggingCommand {
    var logging: LoggingOptions { get }
    var showsTaskLogs: Bool { get }
}

extension LoggingCommand {
    var showsTaskLogs: Bool { false }
}
