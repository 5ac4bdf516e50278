import ArgumentParser
import Cloacina

/// The worker side of process isolation (see `ProcessTaskInvoker`): opens the package the host names and runs its
/// task calls, talking to the host over descriptors 3 and 4 only. Internal; not shown in help.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run task calls for a host (used internally by run and serve with --isolation process).",
        shouldDisplay: false
    )

    func run() {
        TaskWorker.serve()
    }
}
