import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// The loading probe's defences as users meet them: `check`, `run` and `serve` with hostile packages.
@Suite("Hostile packages against check, run and serve")
struct ProbeAttackCommandTests {
    /// Builds package `name` (workflow `<name>_flow`, one task) into `directory`, with a constructor running `body`.
    @discardableResult
    static func build(_ name: String, in directory: String, constructor body: String? = nil) throws -> String {
        var package = CorpusPackage()
        package.name = name
        package.workflows = [("\(name)_flow", [.init("only")])]
        package.constructorBody = body
        return try package.build(in: directory, fileName: "\(name).so")
    }

    /// A constructor that prints the probe's old report lines, claiming `file` loaded, then `ending` (C statements).
    static func forging(_ file: String, _ ending: String) -> String {
        """
        const char *lines = "\(CorpusPackage.forgedReportLines(claiming: file, name: "victim"))";
        (void)!write(1, lines, strlen(lines));
        \(ending)
        """
    }

    @Test("check: a forged report printed by a constructor is not believed; the file is blamed, the next one loads")
    func checkForged() throws {
        let directory = try TemporaryDirectory("cli-forge")
        let good = try Self.build("good", in: directory.path)
        let forge = try Self.build(
            "ctor_forge",
            in: directory.path,
            constructor: Self.forging(good, "raise(SIGSEGV);")
        )
        let result = try runCommand(TestEnvironment.cloacinaExecutable, ["check", forge, good, "--output", "json"])
        #expect(result.exitStatus == 1, "\(result.standardError)")
        let reports = try #require(try JSONValue(parsing: result.standardOutput).arrayValue)
        #expect(reports.map { $0["file"] } == [.string(forge), .string(good)])
        #expect(reports.map { $0["status"] } == ["rejected", "loaded"])
        #expect(reports[0]["error"]?.stringValue?.contains("SIGSEGV") == true)
        #expect(reports[1]["package"]?["name"] == "good")
    }

    @Test("serve: a reload of ctor_forge (and of its exit(0) variant) leaves the host up and serving")
    func serveForged() throws {
        let directory = try TemporaryDirectory("serve-forge")
        let drop = directory.file("workflows")
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
        try Self.build("good", in: drop)
        let daemon = try DaemonProcess(drop: drop, data: directory.file("data"), arguments: ["--tenants", "acme"])
        let forge = try Self.build(
            "ctor_forge",
            in: drop,
            constructor: Self.forging("\(drop)/ctor_forge.so", "raise(SIGSEGV);")
        )
        let exiting = try Self.build(
            "ctor_forge_exit",
            in: drop,
            constructor: Self.forging("\(drop)/ctor_forge_exit.so", "_exit(0);")
        )
        let (status, report) = try daemon.request("POST", "/admin/reload")
        #expect(status == 200, "\(report)")
        let failed = (report["failed"]?.arrayValue ?? []).compactMap { $0["file"]?.stringValue }
        #expect(failed.sorted() == [exiting, forge].sorted(), "\(report)")
        let (health, _) = try daemon.requestText("GET", "/health")
        #expect(health == 200)
        let (submitted, execution) = try daemon.request(
            "POST",
            "/tenants/acme/workflows?wait=true",
            body: #"{"workflow_name": "good_flow", "context": {}}"#
        )
        #expect(submitted == 200, "\(execution)")
        #expect(execution["status"] == "Completed")
        // A second reload (as after a restart) still refuses them and stays up.
        _ = try daemon.request("POST", "/admin/reload")
        #expect(try daemon.requestText("GET", "/health").status == 200)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("run: a hanging constructor costs the configured load time-out (CLOACINA_LOAD_TIMEOUT), blamed alone")
    func runHanging() throws {
        let directory = try TemporaryDirectory("cli-hang")
        let drop = directory.file("workflows")
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
        try Self.build("good", in: drop)
        try Self.build("hang", in: drop, constructor: "for (;;) pause();")
        let result = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["run", "good_flow", "--workflows", drop, "--data-dir", directory.file("data"), "--output", "json"],
            environment: ["CLOACINA_LOAD_TIMEOUT": "1"]
        )
        #expect(result.exitStatus == 0, "\(result.standardError)")
        #expect(
            result.standardError.contains(
                "skipping \(drop)/hang.so: dlopen: loading did not finish within 1 s; the loading process was killed"
            ),
            "\(result.standardError)"
        )
        #expect(try JSONValue(parsing: result.standardOutput)["status"] == "Completed")
    }

    @Test("the loading process gets no secrets from the host's environment")
    func scrubbedEnvironment() throws {
        let directory = try TemporaryDirectory("cli-env")
        let record = directory.file("environ")
        let spy = try Self.build(
            "spy",
            in: directory.path,
            constructor: """
                char buffer[65536];
                int in = open("/proc/self/environ", O_RDONLY);
                ssize_t count = read(in, buffer, sizeof buffer);
                close(in);
                int out = open("\(record)", O_WRONLY | O_CREAT | O_TRUNC, 0600);
                (void)!write(out, buffer, count > 0 ? count : 0);
                close(out);
                """
        )
        let result = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["check", spy],
            environment: [
                "DATABASE_URL": "postgresql://app:hunter2@db.example/app",
                "CLOACINA_TEST_SECRET_PASSWORD": "hunter2",
                "MY_SERVICE_URL": "https://svc:hunter2@example.com/",
                "PLAIN_SETTING": "kept",
            ]
        )
        #expect(result.exitStatus == 0, "\(result.standardError)")
        let seen = try String(contentsOfFile: record, encoding: .utf8)
        let names = seen.split(separator: "\0").map { String($0.prefix { $0 != "=" }) }
        #expect(!seen.contains("hunter2"), "\(names)")
        #expect(names.contains("PLAIN_SETTING"))
    }
}
