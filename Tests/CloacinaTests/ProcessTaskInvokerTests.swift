import Cloacina
import CloacinaJSON
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import InMemoryLogging
import Logging
import Testing

@Suite("Running tasks in worker processes")
struct ProcessTaskInvokerTests {
    /// An invoker whose workers are this build's `cloacina worker`.
    static func invoker(
        grace: Duration = .seconds(5),
        limits: WorkerLimits = .standard,
        perTenant: Bool = false,
        logs: InMemoryLogHandler? = nil
    ) -> ProcessTaskInvoker {
        var options = ProcessTaskInvoker.Options(command: [TestEnvironment.cloacinaExecutable, "worker"])
        options.killGrace = grace
        options.limits = limits
        options.workerPerTenant = perTenant
        if let logs {
            options.taskLogger = Logger(label: "task") { _ in logs }
            options.logger = Logger(label: "worker") { _ in logs }
        }
        return ProcessTaskInvoker(options: options)
    }

    static func misbehaving(_ directory: TemporaryDirectory) throws -> LoadedPackage {
        let path = try MisbehavingPackage.package.build(in: directory.path, fileName: "misbehaving.so")
        return try TaskInvocationTests.load(path, in: directory)
    }

    static func request(
        _ task: String,
        _ directory: TemporaryDirectory,
        tenant: String = "acme",
        attempt: Int = 1
    ) -> TaskRequest {
        TaskRequest(
            workflow: "w_\(task)",
            task: task,
            tenant: tenant,
            executionID: "exec-1",
            attempt: attempt,
            context: Array(MisbehavingPackage.context(directory).utf8)
        )
    }

    /// Runs `invoke` on a thread of its own (it blocks until the worker answers or is killed).
    static func invokeOnThread(
        _ invoker: ProcessTaskInvoker,
        _ request: TaskRequest,
        _ package: LoadedPackage,
        _ cancellation: TaskCancellation
    ) async -> TaskResult {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: invoker.invoke(request, in: package, cancellation: cancellation))
            }
        }
    }

    /// Kills `pid` with SIGKILL and returns once it ended.
    static func killAndWait(_ pid: pid_t) throws {
        try #require(MisbehavingPackage.ended(pid, killing: true))
    }

    static func isGone(_ pid: pid_t) -> Bool {
        kill(pid, 0) != 0 && errno == ESRCH
    }

    @Test("C and Swift packages give the same results in a worker as in process; one warm worker serves the calls")
    func sameAsInProcess() throws {
        let directory = try TemporaryDirectory("worker-same")
        try compileC(
            ["\(TestEnvironment.repositoryRoot)/workflows/c-fingerprint/c_fingerprint.c"],
            output: directory.file("libCFingerprint.so"),
            flags: ["-shared", "-fPIC"]
        )
        let c = try TaskInvocationTests.load(directory.file("libCFingerprint.so"), in: directory)
        let swift = try TaskInvocationTests.load(TestEnvironment.exampleLibrary("TextAnalytics"), in: directory)
        let invoker = Self.invoker()
        defer { invoker.shutdown() }
        let requests: [(LoadedPackage, TaskRequest)] = [
            (c, TaskInvocationTests.request("fingerprint", "measure", #"{"a": 1}"#)),
            (c, TaskInvocationTests.request("fingerprint", "checksum", "{}")),
            (c, TaskInvocationTests.request("fingerprint", "measure", "[1]")),
            (swift, TaskInvocationTests.request("word_stats", "split_words", #"{"text": "Hello hello, World"}"#)),
            (swift, TaskInvocationTests.request("word_stats", "split_words", #"{"text": "1234"}"#)),
            (swift, TaskInvocationTests.request("word_stats", "count_words", #"{"words": 5}"#)),
        ]
        for (package, request) in requests {
            let isolated = invoker.invoke(request, in: package, cancellation: TaskCancellation())
            let local = InProcessTaskInvoker().invoke(request, in: package, cancellation: TaskCancellation())
            #expect(isolated == local, "\(request.workflow).\(request.task)")
        }
        #expect(invoker.idleWorkers == [c.sha256!: 1, swift.sha256!: 1])
        #expect(invoker.crashes.total == 0)

        let cancelled = TaskCancellation()
        cancelled.cancel()
        let corpus = try TaskInvocationTests.load(
            try CorpusPackage().build(in: directory.path, fileName: "c.so"),
            in: directory
        )
        #expect(
            invoker.invoke(
                TaskInvocationTests.request("corpus_flow", "only", "{}"),
                in: corpus,
                cancellation: cancelled
            )
                == .failed("cancelled")
        )
    }

    @Test(
        "a worker that segfaults, aborts, exits or is killed fails that attempt (retryable) with the cause; a fresh worker serves the next call",
        arguments: [
            ("segv", "worker killed by SIGSEGV", "SIGSEGV"),
            ("abort", "worker killed by SIGABRT", "SIGABRT"),
            ("exit3", "worker exited with status 3", "exit"),
            ("sigkill", "worker killed by SIGKILL", "SIGKILL"),
            ("forge", "worker broke the protocol", "protocol"),
        ]
    )
    func crashes(task: String, cause: String, signal: String) throws {
        let directory = try TemporaryDirectory("worker-crash-\(task)")
        let package = try Self.misbehaving(directory)
        let invoker = Self.invoker()
        defer { invoker.shutdown() }
        #expect(invoker.invoke(Self.request("ok", directory), in: package, cancellation: TaskCancellation()).succeeded)
        let result = invoker.invoke(Self.request(task, directory), in: package, cancellation: TaskCancellation())
        guard case .retryable(let message) = result else {
            Issue.record("expected a retryable failure, got \(result)")
            return
        }
        #expect(message.hasPrefix(cause), "\(message)")
        #expect(invoker.crashes.counts == [.init(package: "misbehaving", version: "1.0.0", signal: signal): 1])
        #expect(invoker.invoke(Self.request("ok", directory), in: package, cancellation: TaskCancellation()).succeeded)
        #expect(MisbehavingPackage.calls(in: directory) == ["ok 1", "\(task) 1", "ok 1"])
        #expect(invoker.idleWorkers == [package.sha256!: 1])
    }

    @Test("what a task writes to stdout and stderr is logged with its tenant and task and never read as a frame")
    func garbageOutput() throws {
        let directory = try TemporaryDirectory("worker-garbage")
        let package = try Self.misbehaving(directory)
        let logs = InMemoryLogHandler()
        let invoker = Self.invoker(logs: logs)
        defer { invoker.shutdown() }
        let result = invoker.invoke(Self.request("garbage", directory), in: package, cancellation: TaskCancellation())
        #expect(result.succeeded)
        #expect(invoker.crashes.total == 0)
        let stdout = try #require(logs.entries.first { $0.message.description.hasPrefix("garbage on stdout") })
        #expect(stdout.metadata["tenant"] == "acme")
        #expect(stdout.metadata["task"] == "garbage")
        #expect(stdout.metadata["stream"] == "stdout")
        let stderr = try #require(logs.entries.first { $0.message.description == "garbage on stderr" })
        #expect(stderr.level == .warning)
        #expect(stderr.metadata["stream"] == "stderr")
        #expect(
            logs.entries.contains { $0.message.description == "corpus task ran" && $0.metadata["task"] == "garbage" }
        )
    }

    @Test("a cancelled call that ignores it is killed after the grace period; the worker is gone, and it is no crash")
    func hardTimeout() async throws {
        let directory = try TemporaryDirectory("worker-kill")
        try MisbehavingPackage.makeFIFO(in: directory)
        let package = try Self.misbehaving(directory)
        let invoker = Self.invoker(grace: .milliseconds(200))
        defer { invoker.shutdown() }
        let cancellation = TaskCancellation()
        async let result = Self.invokeOnThread(invoker, Self.request("spin", directory), package, cancellation)
        let pid = try #require(await MisbehavingPackage.announcedPID(in: directory))
        cancellation.cancel()
        let outcome = await result
        #expect(outcome == .failed("the task did not stop within 200 ms of being cancelled; its worker was killed"))
        #expect(Self.isGone(pid))
        #expect(invoker.crashes.total == 0)
        #expect(invoker.idleWorkers.isEmpty)
    }

    @Test("a worker killed from outside while idle is replaced; one killed mid-call fails just that call")
    func killedFromOutside() async throws {
        let directory = try TemporaryDirectory("worker-outside")
        try MisbehavingPackage.makeFIFO(in: directory)
        let package = try Self.misbehaving(directory)
        let invoker = Self.invoker()
        defer { invoker.shutdown() }
        async let first = Self.invokeOnThread(
            invoker,
            Self.request("wait_kill", directory),
            package,
            TaskCancellation()
        )
        let pid = try #require(await MisbehavingPackage.announcedPID(in: directory))
        kill(pid, SIGKILL)
        guard case .retryable(let message) = await first else {
            Issue.record("expected a retryable failure")
            return
        }
        #expect(message == "worker killed by SIGKILL (Killed)")
        let second = invoker.invoke(
            Self.request("wait_kill", directory, attempt: 2),
            in: package,
            cancellation: TaskCancellation()
        )
        #expect(second.succeeded)
        #expect(MisbehavingPackage.calls(in: directory) == ["wait_kill 1", "wait_kill 2"])

        // Killed while idle: found dead at the next call, counted, and replaced.
        _ = invoker.invoke(Self.request("pid", directory), in: package, cancellation: TaskCancellation())
        let idle = try #require(Self.pids(in: directory).last)
        try Self.killAndWait(idle)
        #expect(invoker.invoke(Self.request("pid", directory), in: package, cancellation: TaskCancellation()).succeeded)
        let pids = Self.pids(in: directory)
        #expect(pids.count == 2 && pids[1] != idle)
        #expect(invoker.crashes.counts == [.init(package: "misbehaving", version: "1.0.0", signal: "SIGKILL"): 2])
    }

    static func pids(in directory: TemporaryDirectory, tenant: String? = nil) -> [pid_t] {
        let text = (try? String(contentsOfFile: directory.file("pids"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard tenant == nil || fields.last.map(String.init) == tenant else { return nil }
            return fields.first.flatMap { pid_t($0) }
        }
    }

    @Test("workers are reused across tenants unless each tenant gets its own; idle ones are reaped")
    func reuseAndReaping() throws {
        let directory = try TemporaryDirectory("worker-reuse")
        let package = try Self.misbehaving(directory)
        for perTenant in [false, true] {
            try? FileManager.default.removeItem(atPath: directory.file("pids"))
            let invoker = Self.invoker(perTenant: perTenant)
            defer { invoker.shutdown() }
            for tenant in ["acme", "globex", "acme", "globex"] {
                let result = invoker.invoke(
                    Self.request("pid", directory, tenant: tenant),
                    in: package,
                    cancellation: TaskCancellation()
                )
                #expect(result.succeeded)
            }
            let acme = Set(Self.pids(in: directory, tenant: "acme"))
            let globex = Set(Self.pids(in: directory, tenant: "globex"))
            #expect(acme.count == 1 && globex.count == 1)
            #expect((acme == globex) == !perTenant)
            #expect(invoker.idleWorkers == [package.sha256!: perTenant ? 2 : 1])
            #expect(invoker.reapIdleWorkers(now: .now) == 0)
            #expect(invoker.reapIdleWorkers(now: .now + .seconds(3600)) == (perTenant ? 2 : 1))
            #expect(invoker.idleWorkers.isEmpty)
            for pid in acme.union(globex) { #expect(Self.isGone(pid)) }
        }
    }

    @Test("an idle worker is stopped when its idle time runs out, and on request for its version")
    func reaper() throws {
        let directory = try TemporaryDirectory("worker-reaper")
        let package = try Self.misbehaving(directory)
        var options = ProcessTaskInvoker.Options(command: [TestEnvironment.cloacinaExecutable, "worker"])
        options.idleTimeout = .milliseconds(100)
        let invoker = ProcessTaskInvoker(options: options)
        defer { invoker.shutdown() }
        #expect(invoker.invoke(Self.request("pid", directory), in: package, cancellation: TaskCancellation()).succeeded)
        let reaped = try #require(Self.pids(in: directory).last)
        #expect(MisbehavingPackage.ended(reaped))
        #expect(invoker.crashes.total == 0)

        let kept = Self.invoker()
        defer { kept.shutdown() }
        #expect(kept.invoke(Self.request("pid", directory), in: package, cancellation: TaskCancellation()).succeeded)
        let stopped = try #require(Self.pids(in: directory).last)
        #expect(stopped != reaped)
        kept.stopWorkers(sha256: package.sha256!)
        #expect(kept.idleWorkers.isEmpty)
        #expect(Self.isGone(stopped))
    }

    @Test("resource limits: a task past its CPU seconds gets SIGXCPU; one past the address space fails to allocate")
    func limits() throws {
        let directory = try TemporaryDirectory("worker-limits")
        let package = try Self.misbehaving(directory)
        let invoker = Self.invoker(
            limits: WorkerLimits(addressSpaceBytes: 1 << 30, cpuSecondsPerCall: 1, openFiles: 64)
        )
        defer { invoker.shutdown() }
        let spun = invoker.invoke(Self.request("spin", directory), in: package, cancellation: TaskCancellation())
        #expect(spun == .retryable("worker killed by SIGXCPU (CPU time limit exceeded)"))
        #expect(invoker.invoke(Self.request("ok", directory), in: package, cancellation: TaskCancellation()).succeeded)
        // Touching a gigabyte costs CPU time too (page faults), more on a loaded machine: the address-space limit
        // is tried with a CPU limit it cannot reach first.
        let roomy = Self.invoker(
            limits: WorkerLimits(addressSpaceBytes: 1 << 30, cpuSecondsPerCall: 60, openFiles: 64)
        )
        defer { roomy.shutdown() }
        let hogged = roomy.invoke(Self.request("hog", directory), in: package, cancellation: TaskCancellation())
        #expect(hogged == .retryable("worker killed by SIGABRT (Aborted)"))
        #expect(roomy.invoke(Self.request("ok", directory), in: package, cancellation: TaskCancellation()).succeeded)
    }

    @Test("a package compiled into the program runs in this process")
    func embeddedInProcess() throws {
        let package = WorkflowPackage(name: "embedded", version: "1") {
            Workflow("here") {
                WorkflowTask("pid") { ctx in ctx["pid"] = .int(Int(getpid())) }
            }
        }
        let loaded = try #require(
            PackageLoader(cacheDirectory: try TemporaryDirectory("worker-embedded").file("cache")).load(
                embedded: package
            ).package
        )
        let invoker = Self.invoker()
        let result = invoker.invoke(
            TaskInvocationTests.request("here", "pid", "{}"),
            in: loaded,
            cancellation: TaskCancellation()
        )
        #expect(try TaskInvocationTests.output(result)["pid"] == .int(Int(getpid())))
        #expect(invoker.idleWorkers.isEmpty)
    }
}

extension TaskResult {
    var succeeded: Bool {
        if case .succeeded = self { return true }
        return false
    }
}
