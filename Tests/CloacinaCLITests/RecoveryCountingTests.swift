import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Restarts under load, counted: every task body appends `<execution> <task> <attempt>` to a file each time it is
/// invoked, and after a series of SIGKILLs and graceful restarts (SIGTERM with no drain time) the invocations must
/// match the recorded attempts: no attempt number runs twice, the attempt that completed ran, and a task whose last
/// allowed attempt was interrupted ends Failed without running again.
@Suite("Recovery counts every task invocation", .serialized)
struct RecoveryCountingTests {
    final class Fixture: Sendable {
        let directory: TemporaryDirectory
        /// Each invocation writes one byte here, so the test can wait for work to be under way.
        let started: FileHandle
        var drop: String { directory.file("workflows") }
        var data: String { directory.file("data") }
        var invocations: String { directory.file("invocations") }

        init(_ label: String) throws {
            let directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(
                atPath: directory.file("workflows"),
                withIntermediateDirectories: true
            )
            for fifo in ["started", "gate"] where mkfifo(directory.file(fifo), 0o600) != 0 {
                throw DaemonProcess.DaemonError(message: "mkfifo failed: \(errno)")
            }
            self.directory = directory
            started = FileHandle(fileDescriptor: open(directory.file("started"), O_RDWR), closeOnDealloc: true)
            // Held open read-write so the held tasks' opens never block; written to only by ``openGate(_:)``.
            _ = open(directory.file("gate"), O_RDWR)

            var package = CorpusPackage()
            package.name = "counted"
            package.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
            package.workflows = [
                (
                    "chain",
                    [
                        .init("a", retry: (8, 1, 1)), .init("b", after: ["a"], retry: (8, 1, 1)),
                        .init("c", after: ["b"], retry: (8, 1, 1)),
                    ]
                ),
                ("stuck", [.init("only_once")]),
                // Held at the gate (``openGate(_:)``) on every attempt; four attempts.
                ("gated", [.init("waits", retry: (4, 1, 1))]),
            ]
            package.taskPrologue = """
                {
                    char line[256];
                    int n = snprintf(line, sizeof line, "%s %s %u\\n", call->execution_id, call->task_id, call->attempt);
                    int f = open("\(invocations)", O_WRONLY | O_APPEND | O_CREAT, 0600);
                    if (f >= 0) { (void)!write(f, line, (size_t)n); close(f); }
                    int s = open("\(directory.file("started"))", O_WRONLY);
                    if (s >= 0) { (void)!write(s, "s", 1); close(s); }
                    if (strcmp(call->task_id, "only_once") == 0 || strcmp(call->task_id, "waits") == 0) {
                        int g = open("\(directory.file("gate"))", O_RDONLY);
                        char c;
                        if (g >= 0) { (void)!read(g, &c, 1); close(g); }
                    }
                    usleep(20000);
                }
                """
            try package.build(in: drop, fileName: "libcounted.so")
        }

        /// Waits until `count` more task invocations have begun.
        func awaitInvocations(_ count: Int) {
            var seen = 0
            while seen < count { seen += started.readData(ofLength: count - seen).count }
        }

        /// Lets `count` attempts held at the gate go on.
        func openGate(_ count: Int) throws {
            let gate = open(directory.file("gate"), O_WRONLY | O_NONBLOCK)
            guard gate >= 0 else { throw DaemonProcess.DaemonError(message: "open gate: \(errno)") }
            defer { close(gate) }
            let bytes = [UInt8](repeating: 1, count: count)
            guard write(gate, bytes, count) == count else {
                throw DaemonProcess.DaemonError(message: "write gate: \(errno)")
            }
        }

        /// Invoked attempts by execution and task.
        func invoked() throws -> [String: [Int]] {
            let text = (try? String(contentsOfFile: invocations, encoding: .utf8)) ?? ""
            var result: [String: [Int]] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                try #require(parts.count == 3, "a torn invocation line: \(line)")
                result["\(parts[0]) \(parts[1])", default: []].append(Int(parts[2])!)
            }
            return result
        }
    }

    static func submit(_ daemon: DaemonProcess, _ tenant: String, _ workflow: String) throws -> String {
        let (status, json) = try daemon.request(
            "POST",
            "/tenants/\(tenant)/workflows",
            body: #"{"workflow_name": "\#(workflow)"}"#
        )
        #expect(status == 202, "\(json)")
        return try #require(json["execution_id"]?.stringValue)
    }

    static func crashAndRestart(arguments: [String], tenant: String, label: String) throws {
        let fixture = try Fixture(label)
        func start() throws -> DaemonProcess {
            try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: arguments + ["--tenants", tenant])
        }
        var ids: [String] = []
        var daemon = try start()
        let stuck = try submit(daemon, tenant, "stuck")
        fixture.awaitInvocations(1)
        for round in 0..<6 {
            for _ in 0..<6 { ids.append(try submit(daemon, tenant, "chain")) }
            fixture.awaitInvocations(6)
            if round % 2 == 0 {
                daemon.signal(SIGKILL)
                #expect(daemon.waitForExit() == nil)
            } else {
                // A graceful restart with no time to drain: what runs is left for the next start.
                daemon.signal(SIGTERM)
                #expect(daemon.waitForExit() == 0)
            }
            daemon = try start()
        }
        var recorded: [String: Int] = [:]
        for id in ids {
            let (status, json) = try daemon.request("GET", "/tenants/\(tenant)/executions/\(id)?wait=true")
            #expect(status == 200)
            #expect(json["status"] == "Completed", "\(json)")
            for task in json["tasks"]?.arrayValue ?? [] {
                recorded["\(id) \(task["id"]?.stringValue ?? "")"] = task["attempts"]?.intValue
            }
        }
        let (_, stuckResult) = try daemon.request("GET", "/tenants/\(tenant)/executions/\(stuck)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)

        let invoked = try fixture.invoked()
        #expect(recorded.count == ids.count * 3)
        var unrun = 0
        for (key, attempts) in recorded.sorted(by: { $0.key < $1.key }) {
            let calls = invoked[key] ?? []
            #expect(Set(calls).count == calls.count, "\(key): an attempt number ran twice: \(calls)")
            #expect(calls.allSatisfy { (1...attempts).contains($0) }, "\(key): ran \(calls), recorded \(attempts)")
            #expect(calls.contains(attempts), "\(key): the completed attempt \(attempts) never ran: \(calls)")
            unrun += attempts - Set(calls).count
        }
        // A recorded attempt may go unrun only when a kill fell between its durable start and its first line.
        #expect(unrun <= 3, "recorded attempts that never ran: \(unrun)")
        #expect(invoked.keys.allSatisfy { recorded[$0] != nil || $0 == "\(stuck) only_once" })

        // The stuck task had one attempt; the crash interrupted it, and it never ran again.
        #expect(invoked["\(stuck) only_once"] == [1])
        #expect(stuckResult["status"] == "Failed")
        let only = stuckResult["tasks"]?.arrayValue?.first
        #expect(only?["attempts"] == 1)
        #expect(only?["error"]?.stringValue?.contains("no attempts left") == true, "\(stuckResult)")
    }

    @Test("SQLite: SIGKILL and SIGTERM restarts under load run each attempt once")
    func sqlite() throws {
        try Self.crashAndRestart(arguments: ["--drain-timeout", "0"], tenant: "acme", label: "count-sqlite")
    }

    @Test(
        "PostgreSQL: SIGKILL and SIGTERM restarts under load run each attempt once",
        .enabled(if: TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func postgres() throws {
        let url = try #require(TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL"))
        let schema = "count_\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        defer {
            _ = try? runCommand(TestEnvironment.cloacinaExecutable, ["tenant", "remove", schema, "--database", url])
        }
        try Self.crashAndRestart(
            arguments: ["--drain-timeout", "0", "--database", url],
            tenant: schema,
            label: "count-pg"
        )
    }
}
