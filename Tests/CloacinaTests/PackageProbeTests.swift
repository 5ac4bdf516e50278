import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

@Suite("Loading in a separate process")
struct PackageProbeTests {
    static func probe(_ directory: TemporaryDirectory, timeout: Duration = .seconds(60)) -> PackageProbe {
        PackageProbe(
            cloacina: TestEnvironment.cloacinaExecutable,
            cacheDirectory: directory.file("cache"),
            timeout: timeout
        )
    }

    @Test(
        "a package that crashes in init, or in a constructor during dlopen, is rejected at that stage; the caller lives"
    )
    func crashes() throws {
        let directory = try TemporaryDirectory("probe")
        var segfault = CorpusPackage()
        segfault.name = "segfault"
        segfault.initPrologue = "*(volatile int *)0 = 1;"
        var aborting = CorpusPackage()
        aborting.name = "aborting"
        aborting.extraDeclarations = "__attribute__((constructor)) static void boom(void) { abort(); }"

        let probe = Self.probe(directory)
        let crashed = probe.load(file: try segfault.build(in: directory.path, fileName: "segfault.so"))
        #expect(crashed.error?.stage == .initialization)
        #expect(crashed.error?.reason.contains("crashed the loading process with SIGSEGV") == true)
        #expect(crashed.sha256 != nil)

        let aborted = probe.load(file: try aborting.build(in: directory.path, fileName: "abort.so"))
        #expect(aborted.error?.stage == .dlopen)
        #expect(aborted.error?.reason.contains("SIGABRT") == true)
    }

    @Test("many files load in one child; one that crashes or hangs it is blamed and the files after it still load")
    func batch() throws {
        let directory = try TemporaryDirectory("probe-batch")
        var files: [String] = []
        for index in 0..<6 {
            var package = CorpusPackage()
            package.name = "batch\(index)"
            package.workflows = [("batch_flow\(index)", [.init("only")])]
            if index == 2 { package.initPrologue = "*(volatile int *)0 = 1;" }
            if index == 4 { package.initPrologue = "for (;;) {}" }
            files.append(try package.build(in: directory.path, fileName: "batch\(index).so"))
        }
        files.insert(directory.file("missing.so"), at: 1)
        let reports = Self.probe(directory, timeout: .seconds(2)).load(files: files)
        #expect(reports.map(\.file) == files)
        #expect(reports.map(\.isLoaded) == [true, false, true, false, true, false, true])
        #expect(reports[1].error?.stage == .read)
        #expect(reports[3].error?.reason.contains("SIGSEGV") == true)
        #expect(reports[5].error?.reason.contains("did not finish within 2 s") == true)
        #expect(reports[6].info?.name == "batch5")
    }

    @Test("a package whose init never returns is killed after the time limit")
    func hang() throws {
        let directory = try TemporaryDirectory("probe-hang")
        var hanging = CorpusPackage()
        hanging.name = "hanging"
        hanging.initPrologue = "for (;;) {}"
        let report = Self.probe(directory, timeout: .seconds(1)).load(
            file: try hanging.build(in: directory.path, fileName: "hang.so")
        )
        #expect(report.error?.stage == .initialization)
        #expect(report.error?.reason == "loading did not finish within 1 s; the loading process was killed")
    }

    @Test("a package loaded in a child reports the same as one loaded here")
    func sameAsInProcess() throws {
        let directory = try TemporaryDirectory("probe-same")
        let library = TestEnvironment.exampleLibrary("TextAnalytics")
        let isolated = Self.probe(directory).load(file: library)
        let local = PackageLoader(cacheDirectory: directory.file("local-cache")).load(file: library)
        #expect(isolated.isLoaded)
        #expect(isolated.info == local.info)
        #expect(isolated.sha256 == local.sha256)
        #expect(isolated.workflows == local.workflows)
        #expect(isolated.package == nil)
    }

    @Test("files rejected before any of their code would run need no child process")
    func precheck() throws {
        let directory = try TemporaryDirectory("probe-precheck")
        try Data("not a library".utf8).write(to: URL(fileURLWithPath: directory.file("text.so")))
        let probe = PackageProbe(cloacina: "/nonexistent/cloacina", cacheDirectory: directory.file("cache"))
        let report = probe.load(file: directory.file("text.so"))
        #expect(report.error == PackageLoadError(.elf, "file too short for an ELF header (13 bytes)"))
        let good = probe.load(file: try CorpusPackage().build(in: directory.path, fileName: "good.so"))
        #expect(good.error?.stage == .isolation)
        #expect(good.error?.reason.contains("cannot start /nonexistent/cloacina") == true)
    }

    @Test("a package that exits while loading is reported with the last line it wrote to standard error")
    func exits() throws {
        let directory = try TemporaryDirectory("probe-exit")
        var exiting = CorpusPackage()
        exiting.name = "exiting"
        exiting.initPrologue = #"fputs("giving up: no licence\n", stderr); exit(3);"#
        let report = Self.probe(directory).load(file: try exiting.build(in: directory.path, fileName: "exit.so"))
        #expect(
            report.error
                == PackageLoadError(
                    .initialization,
                    "the loading process exited with status 3 without a report: giving up: no licence"
                )
        )
    }
}
