import Cloacina
import Foundation
import Synchronization

extension Bench {
    /// Several hosts on one PostgreSQL schema: throughput of 1, 2 and 3 hosts (`bench_fan10`, `callers` callers
    /// spread over them; each host a runner of its own here, with its own connections, owner name, listening
    /// session and sweeps, as separate processes have), then the takeover after SIGKILL: a child process
    /// (this program, ``BenchCommand/hostsChild``) starts 4 executions of the 10,000-task DAG and is killed while
    /// they run; the time until a live host took them all over, and until they all ended.
    ///
    /// The child runs on this machine, so the live host sees at once that its pid is gone and takes over at its
    /// next sweep (half a lease); an owner on another machine is waited for until its lease ends (up to 1.5
    /// leases in all). On SQLite, which has one host at a time, it measures nothing.
    func hosts(n: Int, callers: Int, lease: Duration) async throws -> JSONValue {
        var result = line(.hosts, n: n)
        guard backend == .postgres else {
            result["note"] = "SQLite tenants have one host at a time"
            return result
        }
        let schema = storageName("hosts")
        var perHosts: [String: JSONValue] = [:]
        for count in 1...3 {
            var configuration = self.configuration("hosts", name: schema)
            configuration.leaseDuration = lease
            configuration.takeoverInterval = lease / 2
            var runners: [DefaultRunner] = []
            for _ in 0..<count { runners.append(try await DefaultRunner.Builder(configuration: configuration).build()) }
            for runner in runners {
                for _ in 0..<5 { try await Self.check(runner.execute("bench_fan10")) }
            }
            let remaining = Counter(n)
            let counts = statementCounts()
            let clock = ContinuousClock()
            let started = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<callers {
                    let runner = runners[caller % count]
                    group.addTask {
                        while remaining.take() { try await Self.check(runner.execute("bench_fan10")) }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = (clock.now - started).seconds
            for runner in runners { await runner.shutdown() }
            var entry = line(
                .hosts,
                n: n,
                perSecond: Double(n) / seconds,
                tasksPerSecond: Double(n * 10) / seconds,
                statements: counts
            )
            entry["hosts"] = .int(count)
            perHosts["\(count)"] = entry
        }
        result["throughput"] = .object(
            perHosts.mapValues { entry in
                [
                    "tasks_per_s": entry["tasks_per_s"] ?? .null,
                    "pg_statements_per_execution":
                        entry["pg_statements_per_execution"] ?? .null,
                    "pg_round_trips_per_execution":
                        entry["pg_round_trips_per_execution"] ?? .null,
                ]
            }
        )
        for count in 1...3 {
            result["tasks_per_s_\(count)_hosts"] = perHosts["\(count)"]?["tasks_per_s"] ?? .null
        }
        let takeover = try await takeoverAfterKill(schema: schema, lease: lease)
        for (key, value) in takeover { result[key] = value }
        result["lease_s"] = .double(lease.seconds)
        return result
    }

    /// Starts the child host, kills it once its executions are under way, and times the live host's takeover.
    private func takeoverAfterKill(schema: String, lease: Duration) async throws -> [String: JSONValue] {
        let executions = smoke ? 2 : 4
        let resumed = Mutex<(count: Int, last: ContinuousClock.Instant?)>((0, nil))
        var configuration = self.configuration("hosts", name: schema)
        configuration.leaseDuration = lease
        configuration.takeoverInterval = lease / 2
        configuration.observer = { event in
            guard event.kind == .executionResumed else { return }
            resumed.withLock { $0 = ($0.count + 1, .now) }
        }
        let live = try await DefaultRunner.Builder(configuration: configuration).build()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = [
            "--backend", "postgres", "--database", databaseURL ?? "", "--package", packagePath, "--isolation",
            isolation.rawValue, "--hosts-child", schema, "--n", "\(executions)", "--lease-seconds", "\(lease.seconds)",
        ]
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        // The child prints its execution ids, one per line, once they are all durable and under way.
        let ids = try Self.readLines(output.fileHandleForReading, count: executions)
        let clock = ContinuousClock()
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let killed = clock.now
        let ended = try await Self.awaitEnded(ids, on: live)
        let done = clock.now
        let (taken, last) = resumed.withLock { $0 }
        await live.shutdown()
        return [
            "takeover_executions": .int(taken),
            "takeover_s": .double(((last.map { $0 - killed } ?? .zero).seconds * 1000).rounded() / 1000),
            "takeover_all_ended_s": .double(((done - killed).seconds * 1000).rounded() / 1000),
            "takeover_unfinished_at_kill": .int(ended),
        ]
    }

    /// Waits until every execution of `ids` ended; returns how many had not ended when the wait began.
    private static func awaitEnded(_ ids: [String], on runner: DefaultRunner) async throws -> Int {
        var open = Set(ids)
        var first = true
        var unfinished = 0
        while !open.isEmpty {
            for id in open where (try await runner.executionStatus(id)).status.isFinished { open.remove(id) }
            if first { unfinished = open.count }
            first = false
            if !open.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        return unfinished
    }

    private static func readLines(_ handle: FileHandle, count: Int) throws -> [String] {
        var text = ""
        while text.split(separator: "\n").count < count {
            let chunk = handle.availableData
            guard !chunk.isEmpty else { throw BenchError("the child host exited early") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text.split(separator: "\n").map(String.init)
    }

    /// The child of ``hosts(n:callers:lease:)``: starts `n` executions of `bench_dag10k` (10,000 tasks each, so that
    /// they are under way when it is killed) on `schema`, prints their ids once all are recorded, and runs them until
    /// it is killed.
    func hostsChild(schema: String, n: Int, lease: Duration) async throws -> Never {
        var configuration = self.configuration("hosts", name: schema)
        configuration.leaseDuration = lease
        let runner = try await DefaultRunner.Builder(configuration: configuration).build()
        var ids: [String] = []
        for _ in 0..<n { ids.append(try await runner.executeAsync("bench_dag10k", context: [:])) }
        let text = Array((ids.joined(separator: "\n") + "\n").utf8)
        _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
