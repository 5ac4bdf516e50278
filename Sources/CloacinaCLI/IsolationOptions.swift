import ArgumentParser
import Cloacina

/// Where package tasks run, for the commands that run them (`run`, `serve`, `executions resume`): in worker
/// processes (the default) or in the host process, and the limits of the workers.
///
/// Each setting comes from its flag, else its environment variable, else the default.
struct IsolationOptions: ParsableArguments {
    enum Isolation: String, ExpressibleByArgument, CaseIterable {
        case process
        case inProcess = "in-process"
    }

    @Option(
        help: ArgumentHelp(
            "process (each package version's tasks run in worker processes: a crash or hang costs one attempt) or in-process (faster; a crash takes the host down) (default: $CLOACINA_ISOLATION, else process).",
            valueName: "mode"
        )
    )
    var isolation: Isolation?

    @Flag(help: "Give each tenant workers of its own (default: $CLOACINA_WORKER_PER_TENANT=1, else shared).")
    var workerPerTenant = false

    @Option(
        help: ArgumentHelp(
            "With --isolation process, run this trusted package's tasks in the host all the same (repeatable; also $CLOACINA_IN_PROCESS_PACKAGES=a,b); a crash in it takes the host down.",
            valueName: "package"
        )
    )
    var inProcessPackage: [String] = []

    @Option(
        help: ArgumentHelp(
            "Address space of a worker in MiB; 0 for no limit (default: $CLOACINA_WORKER_MEMORY_MB, else 4096).",
            valueName: "MiB"
        )
    )
    var workerMemory: Int?

    @Option(
        help: ArgumentHelp(
            "CPU seconds one task call may use in a worker (SIGXCPU past it); 0 for no limit (default: $CLOACINA_WORKER_CPU_SECONDS, else 0).",
            valueName: "seconds"
        )
    )
    var workerCPU: Int?

    @Option(
        help: ArgumentHelp(
            "Open files of a worker (default: $CLOACINA_WORKER_OPEN_FILES, else 1024).",
            valueName: "n"
        )
    )
    var workerOpenFiles: Int?

    @Option(
        help: ArgumentHelp(
            "Seconds a worker waits for a call before it is stopped (default: $CLOACINA_WORKER_IDLE_SECONDS, else 60).",
            valueName: "seconds"
        )
    )
    var workerIdleTimeout: Double?

    @Option(
        help: ArgumentHelp(
            "Seconds a cancelled or timed-out task may go on before its worker is killed (default: $CLOACINA_KILL_GRACE_SECONDS, else 5).",
            valueName: "seconds"
        )
    )
    var killGrace: Double?

    /// The invoker these options describe.
    func invoker() throws -> any TaskInvoker {
        let mode = try isolation ?? Environment.value("CLOACINA_ISOLATION").map(Self.mode) ?? .process
        guard mode == .process else { return InProcessTaskInvoker() }
        var options = ProcessTaskInvoker.Options()
        options.workerPerTenant = workerPerTenant || Environment.value("CLOACINA_WORKER_PER_TENANT") == "1"
        let named =
            inProcessPackage.isEmpty
            ? (Environment.value("CLOACINA_IN_PROCESS_PACKAGES") ?? "").split(separator: ",").map {
                String($0.filter { $0 != " " })
            }
            : inProcessPackage
        for name in named where !name.isEmpty {
            do {
                try NameRule.validate(name, as: "package name")
            } catch {
                throw UsageError(message: "--in-process-package: \(error.message)")
            }
            options.inProcessPackages.insert(name)
        }
        var limits = WorkerLimits.standard
        if let megabytes = try Self.count(workerMemory, "CLOACINA_WORKER_MEMORY_MB", flag: "--worker-memory") {
            limits.addressSpaceBytes = megabytes == 0 ? nil : megabytes << 20
        }
        if let seconds = try Self.count(workerCPU, "CLOACINA_WORKER_CPU_SECONDS", flag: "--worker-cpu") {
            limits.cpuSecondsPerCall = seconds == 0 ? nil : seconds
        }
        if let files = try Self.count(workerOpenFiles, "CLOACINA_WORKER_OPEN_FILES", flag: "--worker-open-files") {
            guard files >= 16 else {
                throw UsageError(message: "--worker-open-files must be at least 16, got \(files)")
            }
            limits.openFiles = files
        }
        options.limits = limits
        if let seconds = try Self.seconds(
            workerIdleTimeout,
            "CLOACINA_WORKER_IDLE_SECONDS",
            flag: "--worker-idle-timeout"
        ) {
            options.idleTimeout = seconds
        }
        if let seconds = try Self.seconds(killGrace, "CLOACINA_KILL_GRACE_SECONDS", flag: "--kill-grace") {
            options.killGrace = seconds
        }
        return ProcessTaskInvoker(options: options)
    }

    private static func mode(_ text: String) throws -> Isolation {
        guard let mode = Isolation(rawValue: text) else {
            throw UsageError(message: "CLOACINA_ISOLATION must be process or in-process, got \"\(text)\"")
        }
        return mode
    }

    /// The flag's value, else the variable's, checked to be a whole number of at least 0.
    static func count(_ flag: Int?, _ variable: String, flag name: String) throws -> Int? {
        if let flag {
            guard flag >= 0 else { throw UsageError(message: "\(name) must not be negative, got \(flag)") }
            return flag
        }
        guard let text = Environment.value(variable) else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw UsageError(message: "\(variable) must be a whole number of at least 0, got \"\(text)\"")
        }
        return value
    }

    /// The flag's value, else the variable's, checked to be a number of seconds of at least 0 (at most a day).
    static func seconds(_ flag: Double?, _ variable: String, flag name: String) throws -> Duration? {
        let value: Double
        if let flag {
            value = flag
        } else if let text = Environment.value(variable) {
            guard let parsed = Double(text) else {
                throw UsageError(message: "\(variable) must be a number of seconds, got \"\(text)\"")
            }
            value = parsed
        } else {
            return nil
        }
        guard value >= 0 && value <= 86_400 else {
            throw UsageError(
                message: "\(flag == nil ? variable : name) must be between 0 and 86400 seconds, got \(value)"
            )
        }
        return .milliseconds(Int64(value * 1000))
    }
}
