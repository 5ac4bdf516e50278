import ArgumentParser
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The `cloacina` command: the host of workflow packages.
@main
struct CloacinaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloacina",
        abstract: "Load compiled workflow packages and run them as dependency graphs.",
        discussion: """
            Exit status: 0 on success, 1 when a package was rejected or a workflow failed, 2 for usage or \
            configuration errors.
            """,
        version: "0.1.0",
        subcommands: [
            RunCommand.self, ServeCommand.self, ReloadCommand.self, ExecutionsCommand.self, SchedulesCommand.self,
            TenantCommand.self,
            CheckCommand.self, WorkflowsCommand.self, HostsCommand.self, WorkerCommand.self,
        ]
    )

    /// Parses the command line and runs the command, mapping every usage or configuration error to exit status 2.
    static func main() async {
        // The host must survive a SIGHUP from its very start: the reload service takes the signal over later.
        if CommandLine.arguments.dropFirst().first == "serve" { signal(SIGHUP, SIG_IGN) }
        do {
            var command = try parseAsRoot()
            bootstrapLogging(command as? any LoggingCommand)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as UsageError {
            printError("error: \(error.message)")
            Glibc.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Logs go to standard error at `--log-level`, else `CLOACINA_LOG_LEVEL`, else warning; at that default, the
/// log lines of tasks (`cloacina.task`) show at info for commands that run them in the foreground.
private func bootstrapLogging(_ command: (any LoggingCommand)?) {
    let chosen = command?.logging.logLevel ?? Environment.configuredLogLevel
    let level = chosen ?? .warning
    let taskLevel = chosen == nil && command?.showsTaskLogs == true ? Logger.Level.info : level
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = label == "cloacina.task" ? taskLevel : level
        return handler
    }
}

/// A usage or configuration error: the message is printed and the command exits with status 2.
struct UsageError: Error {
    var message: String
}

/// Writes a line to standard error.
func printError(_ message: String) {
    var line = Array(message.utf8)
    if line.last != UInt8(ascii: "\n") { line.append(UInt8(ascii: "\n")) }
    var written = 0
    while written < line.count {
        let count = line.withUnsafeBytes { write(2, $0.baseAddress! + written, $0.count - written) }
        guard count > 0 else { return }
        written += count
    }
}
