import Cloacina
import CloacinaPostgres
import CloacinaSQLite
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs workloads against one backend, with the benchmark package loaded once and shared by every runner.
final class Bench: Sendable {
    let backend: Backend
    let databaseURL: String?
    let smoke: Bool
    let maxConcurrentTasks: Int?
    /// Where the tasks run: in worker processes or in this one.
    let isolation: Isolation
    /// The size of the `context` workload's input.
    let contextBytes: Int
    /// The lease of the `hosts` workload's hosts.
    let hostsLease: Duration
    let invoker: any TaskInvoker
    /// Scratch space: SQLite files, the package cache, generated packages.
    let directory: String
    let package: LoadedPackage
    let packagePath: String
    private let schemas = Mutex<[String]>([])

    init(
        backend: Backend,
        databaseURL: String?,
        packagePath: String,
        smoke: Bool,
        maxConcurrentTasks: Int?,
        isolation: Isolation,
        contextBytes: Int = 10_000_000,
        hostsLease: Duration = .seconds(3)
    ) throws {
        self.hostsLease = hostsLease
        self.backend = backend
        self.databaseURL = databaseURL
        self.smoke = smoke
        self.maxConcurrentTasks = maxConcurrentTasks
        self.isolation = isolation
        self.contextBytes = contextBytes
        switch isolation {
        case .inProcess:
            invoker = InProcessTaskInvoker()
        case .process:
            guard let host = Self.hostExecutable else {
                throw BenchError(
                    "--isolation process runs workers with the cloacina executable beside this one; build it"
                )
            }
            invoker = ProcessTaskInvoker(options: ProcessTaskInvoker.Options(command: [host, "worker"]))
        }
        self.packagePath = packagePath
        var template = Array("/tmp/cloacina-bench-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw BenchError("cannot create a scratch directory") }
        directory = String(cString: created)
        let pipeline = PackagePipeline(
            probe: nil,
            loader: PackageLoader(cacheDirectory: "\(directory)/packages"),
            for: invoker
        )
        let report = pipeline.load(files: [packagePath])[0]
        guard let package = report.package else {
            throw BenchError("\(packagePath): \(report.error.map(String.init(describing:)) ?? "rejected")")
        }
        self.package = package
    }

    /// Removes the scratch directory and the PostgreSQL schemas the run made.
    func cleanup() {
        if let databaseURL, let connection = try? PostgresConnection(databaseURL) {
            for schema in schemas.withLock({ $0 }) {
                _ = try? connection.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
            }
        }
        (invoker as? ProcessTaskInvoker)?.shutdown()
        _ = system("rm -rf '\(directory)'")
    }

    /// A fresh, unique storage name (a PostgreSQL schema or a SQLite file stem) for `label`.
    func storageName(_ label: String) -> String {
        let name = "bench_\(String(label.map { $0 == "-" ? "_" : $0 }))_\(UInt32.random(in: 0...UInt32.max))"
        if backend == .postgres { schemas.withLock { $0.append(name) } }
        return name
    }

    /// Remembers PostgreSQL schemas made under these names, to drop them at the end.
    func registerSchemas(_ names: [String]) {
        schemas.withLock { $0 += names }
    }

    /// A runner configuration on a fresh store (or the one named `name`), with the benchmark package registered.
    func configuration(_ label: String, name: String? = nil) -> DefaultRunner.Configuration {
        let name = name ?? storageName(label)
        var configuration: DefaultRunner.Configuration
        switch backend {
        case .sqlite:
            configuration = DefaultRunner.Configuration(
                databaseURL: SQLiteBackend().store(ofTenant: name, in: directory).url
            )
        case .postgres:
            configuration = DefaultRunner.Configuration(databaseURL: databaseURL ?? "")
            configuration.schema = name
        }
        configuration.packageCacheDirectory = "\(directory)/packages"
        configuration.packages = [package]
        configuration.resumeUnfinished = false
        configuration.invoker = invoker
        if let maxConcurrentTasks { configuration.maxConcurrentTasks = maxConcurrentTasks }
        return configuration
    }

    func runner(_ label: String) async throws -> DefaultRunner {
        try await DefaultRunner.Builder(configuration: configuration(label)).build()
    }

    func run(_ workload: Workload, n: Int?) async throws -> JSONValue {
        switch workload {
        case .single: return try await latency(workload, "bench_single", tasks: 1, n: n ?? (smoke ? 5 : 2000))
        case .chain10: return try await latency(workload, "bench_chain10", tasks: 10, n: n ?? (smoke ? 5 : 1000))
        case .fan10: return try await latency(workload, "bench_fan10", tasks: 10, n: n ?? (smoke ? 5 : 1000))
        case .nativeSingle:
            return try await latency(
                workload,
                "bench_native_single",
                tasks: 1,
                n: n ?? (smoke ? 5 : 2000),
                input: Array(#"{"n":0}"#.utf8)
            )
        case .nativeChain10:
            return try await latency(
                workload,
                "bench_native_chain10",
                tasks: 10,
                n: n ?? (smoke ? 5 : 1000),
                input: Array(#"{"n":0}"#.utf8)
            )
        case .wide: return try await latency(workload, "bench_wide", tasks: 102, n: n ?? (smoke ? 3 : 200))
        case .throughput: return try await throughput(n: n ?? (smoke ? 64 : 5000), callers: smoke ? 8 : 64)
        case .dag10k: return try await dag10k(n: n ?? (smoke ? 1 : 5))
        case .tenants: return try await tenants(n: n ?? (smoke ? 5 : 1000))
        case .reload: return try await reload(packages: n ?? (smoke ? 3 : 50))
        case .invoke: return try await invoke(n: n ?? (smoke ? 20 : 20_000))
        case .nativeInvoke:
            return try await invoke(n: n ?? (smoke ? 20 : 20_000), .nativeInvoke, workflow: "bench_native_single")
        case .context: return try await context(n: n ?? (smoke ? 3 : 30))
        case .history: return try await history(size: n ?? (smoke ? 200 : 100_000))
        case .hosts: return try await hosts(n: n ?? (smoke ? 32 : 3000), callers: smoke ? 8 : 64, lease: hostsLease)
        }
    }

    /// One no-op task call after another (a native-signature one for `native-invoke`) through the invoker alone (no store, no scheduling): what a call costs in
    /// each isolation mode, the process boundary's round trip included.
    func invoke(n: Int, _ workload: Workload = .invoke, workflow: String = "bench_single") async throws -> JSONValue {
        let request = TaskRequest(
            workflow: workflow,
            task: "t0",
            tenant: "bench",
            executionID: "invoke",
            attempt: 1,
            context: Array(#"{"n": 1}"#.utf8)
        )
        let (invoker, package) = (self.invoker, self.package)
        let (samples, seconds) = try await BlockingCall.run {
            let clock = ContinuousClock()
            for _ in 0..<max(10, n / 20) { _ = invoker.invoke(request, in: package, cancellation: TaskCancellation()) }
            var samples: [Double] = []
            samples.reserveCapacity(n)
            let started = clock.now
            for _ in 0..<n {
                let start = clock.now
                _ = invoker.invoke(request, in: package, cancellation: TaskCancellation())
                samples.append((clock.now - start).milliseconds)
            }
            return (samples, (clock.now - started).seconds)
        }
        return line(
            workload,
            n: n,
            samples: samples,
            perSecond: Double(n) / seconds,
            tasksPerSecond: Double(n) / seconds
        )
    }

    /// Sequential `execute` calls of one workflow (with `input` as its context, if given): latency percentiles.
    func latency(
        _ workload: Workload,
        _ workflow: String,
        tasks: Int,
        n: Int,
        input: [UInt8]? = nil
    ) async throws -> JSONValue {
        let runner = try await runner(workload.rawValue)
        func execute() async throws {
            if let input {
                try await Self.check(runner.execute(workflow, contextJSON: input))
            } else {
                try await Self.check(runner.execute(workflow))
            }
        }
        for _ in 0..<max(3, n / 20) { try await execute() }
        var samples: [Double] = []
        samples.reserveCapacity(n)
        let counts = statementCounts()
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<n {
            let start = clock.now
            try await execute()
            samples.append((clock.now - start).milliseconds)
        }
        let seconds = (clock.now - started).seconds
        await runner.shutdown()
        return line(
            workload,
            n: n,
            samples: samples,
            perSecond: Double(n) / seconds,
            tasksPerSecond: Double(n * tasks) / seconds,
            statements: counts
        )
    }

    /// `callers` concurrent callers running `bench_fan10` until `n` executions ran.
    func throughput(n: Int, callers: Int) async throws -> JSONValue {
        let runner = try await runner("throughput")
        for _ in 0..<10 { try await Self.check(runner.execute("bench_fan10")) }
        let remaining = Counter(n)
        let counts = statementCounts()
        let clock = ContinuousClock()
        let started = clock.now
        let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var samples: [Double] = []
                    while remaining.take() {
                        let start = clock.now
                        try await Self.check(runner.execute("bench_fan10"))
                        samples.append((clock.now - start).milliseconds)
                    }
                    return samples
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let seconds = (clock.now - started).seconds
        await runner.shutdown()
        return line(
            .throughput,
            n: n,
            samples: samples,
            perSecond: Double(n) / seconds,
            tasksPerSecond: Double(n * 10) / seconds,
            statements: counts
        )
    }

    /// Planning (validation, ordering) of the 10,000-task workflow, then full runs of it.
    func dag10k(n: Int) async throws -> JSONValue {
        guard let definition = package.workflow(named: "bench_dag10k") else { throw BenchError("no bench_dag10k") }
        let clock = ContinuousClock()
        var plans: [Double] = []
        for _ in 0..<(smoke ? 1 : 7) {
            let start = clock.now
            _ = try ExecutionPlan(definition)
            plans.append((clock.now - start).milliseconds)
        }
        let runner = try await runner("dag10k")
        var samples: [Double] = []
        let started = clock.now
        for _ in 0..<n {
            let start = clock.now
            try await Self.check(runner.execute("bench_dag10k"))
            samples.append((clock.now - start).milliseconds)
        }
        let seconds = (clock.now - started).seconds
        await runner.shutdown()
        var result = line(
            .dag10k,
            n: n,
            samples: samples,
            perSecond: Double(n) / seconds,
            tasksPerSecond: Double(n * 10_000) / seconds
        )
        result["plan_ms"] = .double(Self.percentile(plans.sorted(), 0.5))
        // Storage work, done once per plan and outside planning: the definition as stored with each execution.
        let start = clock.now
        _ = definition.json.serialized()
        result["definition_json_ms"] = .double((clock.now - start).milliseconds)
        return result
    }

    /// Counts of what PostgreSQL does from now on (nil on SQLite).
    func statementCounts() -> StatementCounts? {
        backend == .postgres ? StatementCounts.start(databaseURL) : nil
    }

    static func check(_ result: ExecutionResult) throws {
        guard result.status == .completed else {
            throw BenchError("execution \(result.executionID) ended \(result.status.rawValue): \(result.error ?? "")")
        }
    }

    /// One output line; keys that do not apply are null.
    func line(
        _ workload: Workload,
        n: Int,
        samples: [Double] = [],
        perSecond: Double? = nil,
        tasksPerSecond: Double? = nil,
        statements: StatementCounts? = nil
    ) -> JSONValue {
        let sorted = samples.sorted()
        let perExecution = statements?.per(n, url: databaseURL) ?? [:]
        func value(_ number: Double?) -> JSONValue { number.map { .double(($0 * 1000).rounded() / 1000) } ?? .null }
        let fields: [String: JSONValue] = [
            "engine": "cloacina-swift",
            "backend": .string(backend.rawValue),
            "workload": .string(workload.rawValue),
            "isolation": .string(isolation.rawValue),
            "n": .int(n),
            "p50_ms": value(sorted.isEmpty ? nil : Self.percentile(sorted, 0.5)),
            "p90_ms": value(sorted.isEmpty ? nil : Self.percentile(sorted, 0.9)),
            "p95_ms": value(sorted.isEmpty ? nil : Self.percentile(sorted, 0.95)),
            "p99_ms": value(sorted.isEmpty ? nil : Self.percentile(sorted, 0.99)),
            "per_sec": value(perSecond),
            "tasks_per_s": value(tasksPerSecond),
            "rss_mb": value(Self.residentMegabytes()),
        ]
        return .object(fields.merging(perExecution) { $1 })
    }

    /// The value below which `fraction` of `sorted` lies (nearest rank).
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// This process's resident set size, from /proc/self/statm.
    static func residentMegabytes() -> Double? {
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var size = 0
        var resident = 0
        guard fscanf_statm(file, &size, &resident) else { return nil }
        return Double(resident * Int(sysconf(Int32(_SC_PAGESIZE)))) / 1_048_576
    }

    private static func fscanf_statm(
        _ file: UnsafeMutablePointer<FILE>,
        _ size: inout Int,
        _ resident: inout Int
    ) -> Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let fields = String(cString: buffer).split(separator: " ")
        guard fields.count >= 2, let total = Int(fields[0]), let rss = Int(fields[1]) else { return false }
        size = total
        resident = rss
        return true
    }
}

/// A shared count, for workloads' concurrent callers.
final class Counter: Sendable {
    private let value: Atomic<Int>

    init(_ value: Int = 0) {
        self.value = Atomic(value)
    }

    var current: Int { value.load(ordering: .relaxed) }

    func add(_ amount: Int = 1) { value.add(amount, ordering: .relaxed) }

    /// Takes one unit if any is left.
    func take() -> Bool { value.subtract(1, ordering: .relaxed).oldValue > 0 }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
    var seconds: Double { milliseconds / 1000 }
}
