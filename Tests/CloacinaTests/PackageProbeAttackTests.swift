import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

/// Files built to fool or take down the loading probe: each is blamed alone, and the files beside it load.
@Suite("The loading probe against hostile files")
struct PackageProbeAttackTests {
    static func probe(
        _ directory: TemporaryDirectory,
        timeout: Duration = .seconds(60),
        slowAfter: Duration? = nil
    ) -> PackageProbe {
        PackageProbe(
            cloacina: TestEnvironment.cloacinaExecutable,
            cacheDirectory: directory.file("cache"),
            timeout: timeout,
            slowAfter: slowAfter
        )
    }

    /// A good package named `name` with a workflow of its own, built into `directory`.
    static func good(_ name: String, in directory: TemporaryDirectory) throws -> String {
        var package = CorpusPackage()
        package.name = name
        package.workflows = [("\(name)_flow", [.init("only")])]
        return try package.build(in: directory.path, fileName: "\(name).so")
    }

    /// A package whose constructor runs `body` (C statements) when the library is opened.
    static func constructor(_ name: String, _ body: String, in directory: TemporaryDirectory) throws -> String {
        var package = CorpusPackage()
        package.name = name
        package.workflows = [("\(name)_flow", [.init("only")])]
        package.constructorBody = body
        return try package.build(in: directory.path, fileName: "\(name).so")
    }

    @Test("ctor_forge: a constructor that prints a genuine-looking report and then segfaults is rejected alone")
    func forgedReportThenCrash() throws {
        let directory = try TemporaryDirectory("probe-forge")
        let before = try Self.good("before", in: directory)
        let after = try Self.good("after", in: directory)
        let forgePath = directory.file("ctor_forge.so")
        try Self.constructor(
            "ctor_forge",
            """
            const char *lines = "\(CorpusPackage.forgedReportLines(claiming: after, name: "after"))";
            write(1, lines, strlen(lines));
            raise(SIGSEGV);
            """,
            in: directory
        )
        let reports = Self.probe(directory).load(files: [before, forgePath, after])
        #expect(reports.map(\.isLoaded) == [true, false, true])
        #expect(reports[1].file == forgePath)
        #expect(reports[1].error?.stage == .dlopen)
        #expect(reports[1].error?.reason.contains("crashed the loading process with SIGSEGV") == true)
        #expect(reports[2].info?.name == "after")
    }

    @Test("a constructor that prints a forged report and exits 0 is rejected; the file after it loads")
    func forgedReportThenExit() throws {
        let directory = try TemporaryDirectory("probe-forge-exit")
        let after = try Self.good("after", in: directory)
        let forgePath = directory.file("ctor_forge_exit.so")
        try Self.constructor(
            "ctor_forge_exit",
            """
            const char *lines = "\(CorpusPackage.forgedReportLines(claiming: forgePath, name: "ctor_forge_exit"))";
            fputs(lines, stdout); fflush(stdout);
            _exit(0);
            """,
            in: directory
        )
        let reports = Self.probe(directory).load(files: [forgePath, after])
        #expect(reports.map(\.isLoaded) == [false, true])
        #expect(reports[0].error?.stage == .dlopen)
        #expect(reports[0].error?.reason.contains("exited with status 0 without a report") == true)
    }

    @Test("a report frame written to every socket the package finds, before its load returned, is refused as forged")
    func forgedFrame() throws {
        let directory = try TemporaryDirectory("probe-frame")
        let forger = try Self.constructor(
            "frame_forge",
            #"""
            static const char frame[] = "r{\"file\":\"x\",\"status\":\"loaded\"}";
            for (int fd = 3; fd < 1024; fd++) {
                int type = 0; socklen_t length = sizeof type;
                if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0) {
                    send(fd, frame, sizeof frame - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                    send(fd, "e0000", 5, MSG_NOSIGNAL | MSG_DONTWAIT);
                }
            }
            """#,
            in: directory
        )
        let good = try Self.good("good", in: directory)
        let reports = Self.probe(directory).load(files: [forger, good])
        #expect(reports.map(\.isLoaded) == [false, true])
        #expect(reports[0].error?.stage == .dlopen)
        #expect(reports[0].error?.reason.contains("forged") == true, "\(String(describing: reports[0].error))")
    }

    @Test("a message on the channel from a process the package forked is refused")
    func forkedSender() throws {
        let directory = try TemporaryDirectory("probe-fork")
        let forker = try Self.constructor(
            "fork_forge",
            #"""
            pid_t child = fork();
            if (child == 0) {
                for (int fd = 3; fd < 1024; fd++) {
                    int type = 0; socklen_t length = sizeof type;
                    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_SEQPACKET) {
                        send(fd, "sinit", 5, MSG_NOSIGNAL | MSG_DONTWAIT);
                    }
                }
                _exit(0);
            }
            waitpid(child, NULL, 0);
            """#,
            in: directory
        )
        let report = Self.probe(directory).load(file: forker)
        #expect(!report.isLoaded)
        #expect(
            report.error?.reason.contains("came from another process") == true,
            "\(String(describing: report.error))"
        )
    }

    @Test("probe_detect: the loading process's command line is the worker's, naming no file and no mode")
    func commandLine() throws {
        let directory = try TemporaryDirectory("probe-detect")
        let record = directory.file("seen")
        let detector = try Self.constructor(
            "probe_detect",
            """
            char buffer[8192];
            int in = open("/proc/self/cmdline", O_RDONLY);
            ssize_t count = read(in, buffer, sizeof buffer);
            close(in);
            for (ssize_t i = 0; i < count; i++) if (buffer[i] == 0) buffer[i] = '\\n';
            int out = open("\(record)", O_WRONLY | O_CREAT | O_APPEND, 0600);
            write(out, buffer, count);
            write(out, "--\\n", 3);
            close(out);
            buffer[count > 0 ? count - 1 : 0] = 0;
            /* The old probe's command line said what it was: behave only there. */
            if (!strstr(buffer, "probe-package")) { raise(SIGSEGV); }
            """,
            in: directory
        )
        let good = try Self.good("good", in: directory)
        let reports = Self.probe(directory).load(files: [good, detector])
        let seen = try String(contentsOfFile: record, encoding: .utf8)
        let lines = seen.split(separator: "\n").map(String.init)
        #expect(lines.first.map { $0.hasSuffix("/cloacina") } == true)
        #expect(Array(lines.dropFirst().prefix(2)) == ["worker", "--"], "\(lines)")
        #expect(!seen.contains(directory.path))
        // It behaves like a package that crashes in the host: the probe sees it crash, so the host never loads it.
        #expect(reports.map(\.isLoaded) == [true, false])
        #expect(reports[1].error?.reason.contains("SIGSEGV") == true)
    }

    @Test("a constructor or init that calls exit(0) is blamed alone; the other files of the batch load")
    func exitZeroInBatch() throws {
        let directory = try TemporaryDirectory("probe-exit0")
        var files = [try Self.good("first", in: directory)]
        var exiting = CorpusPackage()
        exiting.name = "exits"
        exiting.initPrologue = "exit(0);"
        files.append(try exiting.build(in: directory.path, fileName: "exits.so"))
        files.append(try Self.constructor("ctor_exit", "exit(0);", in: directory))
        files.append(try Self.good("second", in: directory))
        files.append(try Self.good("third", in: directory))
        let reports = Self.probe(directory).load(files: files)
        #expect(reports.map(\.isLoaded) == [true, false, false, true, true])
        #expect(reports[1].error?.stage == .initialization)
        #expect(reports[1].error?.reason.hasPrefix("the loading process exited with status 0 without a report") == true)
        #expect(reports[2].error?.stage == .dlopen)
        #expect(reports.filter(\.isLoaded).map { $0.info?.name } == ["first", "second", "third"])
    }

    @Test("a hanging constructor is killed after the configured time and blamed alone; the rest of its batch loads")
    func hangingConstructor() throws {
        let directory = try TemporaryDirectory("probe-hang-ctor")
        let files = [
            try Self.good("first", in: directory),
            try Self.constructor("ctor_hang", "for (;;) pause();", in: directory),
            try Self.good("second", in: directory),
        ]
        let reports = Self.probe(directory, timeout: .seconds(2)).load(files: files)
        #expect(reports.map(\.isLoaded) == [true, false, true])
        #expect(reports[1].error?.stage == .dlopen)
        #expect(reports[1].error?.reason == "loading did not finish within 2 s; the loading process was killed")
    }

    @Test("a package whose destructor crashes after its report is blamed, not believed; the others load")
    func crashAfterReport() throws {
        let directory = try TemporaryDirectory("probe-dtor")
        var crashing = CorpusPackage()
        crashing.name = "dtor_crash"
        crashing.workflows = [("dtor_flow", [.init("only")])]
        crashing.extraDeclarations = """
            #include <signal.h>
            __attribute__((destructor)) static void boom(void) { raise(SIGSEGV); }
            """
        let files = [
            try Self.good("first", in: directory),
            try crashing.build(in: directory.path, fileName: "dtor_crash.so"),
            try Self.good("second", in: directory),
        ]
        let reports = Self.probe(directory).load(files: files)
        #expect(reports.map(\.isLoaded) == [true, false, true])
        #expect(reports[1].error?.reason.contains("SIGSEGV") == true, "\(String(describing: reports[1].error))")
    }

    @Test("a slow file does not hold up the others: they are reported while it loads, and it is reported when done")
    func slowFile() throws {
        let directory = try TemporaryDirectory("probe-slow")
        let gate = directory.file("gate")
        #expect(mkfifo(gate, 0o600) == 0)
        var slow = CorpusPackage()
        slow.name = "slow"
        slow.workflows = [("slow_flow", [.init("only")])]
        // Blocks until the test opens the FIFO for writing, then reads to its end.
        slow.initPrologue = """
            { FILE *gate = fopen("\(gate)", "r"); if (gate) { while (fgetc(gate) != EOF) {} fclose(gate); } }
            """
        let files = [
            try Self.good("first", in: directory),
            try slow.build(in: directory.path, fileName: "slow.so"),
            try Self.good("second", in: directory),
        ]
        let probe = Self.probe(directory, slowAfter: .milliseconds(200))
        let (reports, pending) = probe.load(files: files, settling: true)
        #expect(reports[0]?.isLoaded == true)
        #expect(reports[1] == nil)
        #expect(reports[2]?.isLoaded == true)
        let waiting = try #require(pending)
        #expect(waiting.files == [files[1]])
        // Let the slow init finish.
        let writer = open(gate, O_WRONLY)
        close(writer)
        let finished = waiting.wait()
        #expect(finished.map(\.isLoaded) == [true])
        #expect(finished.first?.info?.name == "slow")
    }
}
