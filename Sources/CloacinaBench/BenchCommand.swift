import ArgumentParser
import Cloacina
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina-bench`: the standard workloads, through the real paths (the benchmark package's `.so`, the loader,
/// `DefaultRunner`, the daemon for reloads), one JSON line per workload on standard output.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloacina-bench",
        abstract: "Run the standard workloads and print one JSON line per workload.",
        discussion: """
            Workloads: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")). The benchmark package \
            (workflows/bench) must be built first: swift package --allow-writing-to-package-directory \
            build-workflows --product BenchWorkflows (it lands in .cloacina/workflows).
            """
    )

    @Option(help: "sqlite or postgres.")
    var backend: Backend = .sqlite

    @Option(help: ArgumentHelp("PostgreSQL URL for --backend postgres (default: $DATABASE_URL).", valueName: "url"))
    var database: String?

    @Option(name: .customLong("workload"), help: "A workload to run (repeatable; default: all).")
    var workloads: [Workload] = []

    @Option(help: "Iterations per workload (default: each workload's own).")
    var n: Int?

    @Flag(help: "Tiny sizes: checks that every workload runs, measures nothing meaningful.")
    var smoke = false

    @Option(
        help: ArgumentHelp(
            "The benchmark package (default: .cloacina/workflows/libBenchWorkflows.so).",
            valueName: "path"
        )
    )
    var package: String?

    @Option(help: "Task attempts run at once (default: the runner's).")
    var maxConcurrentTasks: Int?

    @Option(
        name: .customLong("isolation"),
        help: "Where tasks run: process (worker processes) or in-process (repeatable; default: both)."
    )
    var isolations: [Isolation] = []

    @Option(help: "The size of the context workload's input, in bytes.")
    var contextBytes = 10_000_000

    @Option(help: "The lease of the hosts workload's hosts, in seconds.")
    var leaseSeconds = 3.0

    /// The hosts workload's child host: runs executions on this schema until it is killed.
    @Option(help: .hidden)
    var hostsChild: String?

    func validate() throws {
        if let n, n < 1 { throw ValidationError("--n must be at least 1") }
        if contextBytes < 64 { throw ValidationError("--context-bytes must be at least 64") }
        if !(leaseSeconds >= 0.5) { throw ValidationError("--lease-seconds must be at least 0.5") }
        if backend == .postgres && (database ?? Self.environment("DATABASE_URL")) == nil {
            throw ValidationError("--backend postgres needs --database URL or $DATABASE_URL")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = BenchCommand.environment("CLOACINA_BENCH_LOG") == nil ? .error : .debug
            return handler
        }
        let path =
            package ?? "\(Self.environment("CLOACINA_WORKFLOWS_DIR") ?? ".cloacina/workflows")/libBenchWorkflows.so"
        guard access(path, R_OK) == 0 else {
            throw ValidationError(
                """
                the benchmark package \(path) is missing; build it with
                  swift package --allow-writing-to-package-directory build-workflows --product BenchWorkflows
                """
            )
        }
        for isolation in isolations.isEmpty ? Isolation.allCases : isolations {
            let bench = try Bench(
                backend: backend,
                databaseURL: database ?? Self.environment("DATABASE_URL"),
                packagePath: path,
                smoke: smoke,
                maxConcurrentTasks: maxConcurrentTasks,
                isolation: isolation,
                contextBytes: contextBytes,
                hostsLease: .milliseconds(Int(leaseSeconds * 1000))
            )
            if let hostsChild {
                try await bench.hostsChild(schema: hostsChild, n: n ?? 200, lease: bench.hostsLease)
            }
            defer { bench.cleanup() }
            for workload in workloads.isEmpty ? Workload.allCases : workloads {
                let line = try await bench.run(workload, n: n)
                // Unbuffered: a line appears as soon as its workload ends.
                let text = Array((line.serializedString() + "\n").utf8)
                _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            }
        }
    }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }
}

enum Backend: String, ExpressibleByArgument, CaseIterable, Sendable {
    case sqlite, postgres
}

enum Isolation: String, ExpressibleByArgument, CaseIterable, Sendable {
    case inProcess = "in-process"
    case process
}

enum Workload: String, ExpressibleByArgument, CaseIterable, Sendable {
    case single, chain10, fan10, throughput, wide, dag10k, tenants, reload, invoke, context, history, hosts
    case nativeSingle = "native-single"
    case nativeChain10 = "native-chain10"
    case nativeInvoke = "native-invoke"
}
