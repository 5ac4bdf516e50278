import Cloacina
import CloacinaTestSupport
import Foundation
import Synchronization
import Testing

@Suite("Package loader")
struct PackageLoaderTests {
    /// One broken package per way of being broken, with the stage and words its rejection must name.
    static func corpus() -> [(file: String, package: CorpusPackage?, stage: String, reason: String)] {
        func package(_ name: String, _ change: (inout CorpusPackage) -> Void = { _ in }) -> CorpusPackage {
            var package = CorpusPackage()
            package.name = name
            package.workflows = [("\(name)_flow", [.init("only")])]
            change(&package)
            return package
        }
        func graph(_ name: String, _ tasks: [CorpusPackage.Task]) -> CorpusPackage {
            package(name) { $0.workflows = [("\(name)_flow", tasks)] }
        }
        return [
            (
                "noinfo.so", package("noinfo") { $0.exportInfo = false }, "symbols",
                "does not export cloacina_package_info"
            ),
            (
                "noinit.so", package("noinit") { $0.exportInit = false }, "symbols",
                "does not export cloacina_package_init"
            ),
            (
                "abi2.so", package("abi2") { $0.abiMajor = 2 }, "info",
                "ABI major version mismatch: the package was built for ABI 2.0, this host implements 1.1"
            ),
            ("abi1_5.so", package("abi15") { $0.abiMinor = 5 }, "info", "needs ABI 1.5, newer than this host's 1.1"),
            (
                "nullinfo.so", package("nullinfo") { $0.infoReturnsNull = true }, "info",
                "cloacina_package_info returned NULL"
            ),
            (
                "initfails.so",
                package("initfails") {
                    $0.initStatus = 7
                    $0.initError = "database unreachable"
                }, "init",
                "cloacina_package_init returned 7: database unreachable"
            ),
            (
                "dupid.so", graph("dupid", [.init("a"), .init("a")]), "init",
                "duplicate task id \"a\" in workflow \"dupid_flow\""
            ),
            (
                "cycle.so",
                graph("cycle", [.init("a", after: ["c"]), .init("b", after: ["a"]), .init("c", after: ["b"])]),
                "validate", "workflow \"cycle_flow\" has a cycle: a → b → c → a"
            ),
            (
                "missingdep.so", graph("missingdep", [.init("a"), .init("b", after: ["ghost"])]), "validate",
                "task \"b\" depends on \"ghost\", which is not a task of workflow \"missingdep_flow\""
            ),
            ("emptyflow.so", graph("emptyflow", []), "validate", "workflow \"emptyflow_flow\" has no tasks"),
            (
                "badretry.so", graph("badretry", [.init("a", retry: (3, 7, 1))]), "init",
                "unknown backoff code 7"
            ),
            (
                "badtrigger.so",
                graph(
                    "badtrigger",
                    [
                        .init("a"),
                        .init(
                            "b",
                            after: ["a"],
                            triggerRule:
                                #"{\"type\":\"all\",\"conditions\":[{\"type\":\"context_value\",\"key\":\"k\",\"operator\":\"bigger\",\"value\":1}]}"#
                        ),
                    ]
                ), "init", "unknown operator \"bigger\""
            ),
            (
                "swiftnotag.so",
                package("swiftnotag") {
                    $0.extraDeclarations =
                        #"__attribute__((used, section("swift5_typeref"))) static const char fake[] = "x";"#
                }, "toolchain", "contains Swift code but no toolchain tag"
            ),
            (
                "wrongtoolchain.so",
                package("wrongtoolchain") {
                    $0.extraDeclarations = """
                        __attribute__((used, section("swift5_typeref"))) static const char fake[] = "x";
                        __attribute__((used, section("cloacina_toolchain"))) static const char tag[] = "swiftlang-clang 1.0";
                        """
                }, "toolchain", "was built with toolchain \"swiftlang-clang 1.0\""
            ),
            ("dupworkflow-a.so", package("pa") { $0.workflows = [("shared_flow", [.init("x")])] }, "", ""),
            (
                "dupworkflow-b.so", package("pb") { $0.workflows = [("shared_flow", [.init("y")])] }, "conflict",
                "workflow \"shared_flow\" is already provided by package \"pa\""
            ),
        ]
    }

    @Test("a directory of broken packages: each is rejected with its stage and reason, the valid ones still load")
    func brokenCorpus() throws {
        let directory = try TemporaryDirectory("corpus")
        let drop = directory.file("drop")
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)

        var expected: [String: (stage: String, reason: String)] = [:]
        for entry in Self.corpus() {
            try entry.package!.build(in: drop, fileName: entry.file)
            expected[entry.file] = (entry.stage, entry.reason)
        }
        // Files that are not packages at all.
        try Data().write(to: URL(fileURLWithPath: "\(drop)/empty.so"))
        expected["empty.so"] = ("elf", "the file is empty")
        try Data((0..<4096).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: "\(drop)/random.so"))
        expected["random.so"] = ("elf", "not an ELF file")
        let good = try CorpusPackage().build(in: directory.path, fileName: "libgood.so")
        try Data(contentsOf: URL(fileURLWithPath: good)).prefix(3000).write(
            to: URL(fileURLWithPath: "\(drop)/truncated.so")
        )
        expected["truncated.so"] = ("elf", "truncated")
        try "int main(void) { return 0; }\n".write(toFile: directory.file("main.c"), atomically: true, encoding: .utf8)
        try compileC([directory.file("main.c")], output: "\(drop)/pie.so", flags: ["-fPIE", "-pie"])
        expected["pie.so"] = ("elf", "a position-independent executable, not a shared object")
        try compileC([directory.file("main.c")], output: "\(drop)/executable.so", flags: ["-no-pie"])
        expected["executable.so"] = ("elf", "an executable, not a shared object")
        try compileC([directory.file("main.c")], output: "\(drop)/object.so", flags: ["-c", "-fPIC"])
        expected["object.so"] = ("elf", "a relocatable object file (.o)")
        try FileManager.default.createSymbolicLink(
            atPath: "\(drop)/libc.so",
            withDestinationPath: "/usr/lib/x86_64-linux-gnu/libc.so.6"
        )
        expected["libc.so"] = ("symbols", "not a Cloacina workflow package")

        // The valid packages beside them: the C example compiled from its source, and the Swift example.
        try compileC(
            ["\(TestEnvironment.repositoryRoot)/workflows/c-fingerprint/c_fingerprint.c"],
            output: "\(drop)/libCFingerprint.so",
            flags: ["-shared", "-fPIC"]
        )
        try FileManager.default.copyItem(
            atPath: TestEnvironment.exampleLibrary("TextAnalytics"),
            toPath: "\(drop)/libTextAnalytics.so"
        )
        expected["libCFingerprint.so"] = ("", "")
        expected["libTextAnalytics.so"] = ("", "")

        let loader = PackageLoader(cacheDirectory: directory.file("cache"))
        let reports = try PackagePipeline(loader: loader).load(directory: drop)
        #expect(reports.count == expected.count)
        for report in reports {
            let name = URL(fileURLWithPath: report.file).lastPathComponent
            guard let want = expected[name] else {
                Issue.record("unexpected report for \(name)")
                continue
            }
            if want.stage.isEmpty {
                #expect(report.isLoaded, "\(name) should load but: \(report.error.map(String.init(describing:)) ?? "")")
                #expect(report.package != nil)
            } else {
                #expect(
                    report.error?.stage.name == want.stage,
                    "\(name): \(report.error.map(String.init(describing:)) ?? "loaded")"
                )
                #expect(
                    report.error?.reason.contains(want.reason) == true,
                    "\(name): \(report.error?.reason ?? "loaded")"
                )
            }
        }
        let loaded = Set(reports.filter(\.isLoaded).map { URL(fileURLWithPath: $0.file).lastPathComponent })
        #expect(loaded == ["libCFingerprint.so", "libTextAnalytics.so", "dupworkflow-a.so"])
    }

    @Test("the same content from two paths is loaded once; its init runs once, even when it fails")
    func deduplication() throws {
        let directory = try TemporaryDirectory("dedup")
        let log = directory.file("init.log")
        setenv("CLOACINA_TEST_INIT_LOG", log, 1)
        var package = CorpusPackage()
        package.name = "dedup_\(UUID().uuidString.prefix(8).lowercased())"
        let first = try package.build(in: directory.path, fileName: "a.so")
        try FileManager.default.copyItem(atPath: first, toPath: directory.file("b.so"))

        var failing = CorpusPackage()
        failing.name = "dedupfail_\(UUID().uuidString.prefix(8).lowercased())"
        failing.initStatus = 3
        let failingPath = try failing.build(in: directory.path, fileName: "fail.so")

        let loader = PackageLoader(cacheDirectory: directory.file("cache"))
        let a = loader.load(file: first)
        let b = loader.load(file: directory.file("b.so"))
        let again = loader.load(file: first)
        #expect(a.isLoaded && b.isLoaded && again.isLoaded)
        #expect(a.package === b.package)
        #expect(a.package === again.package)
        #expect(b.duplicateOf == first)
        #expect(again.duplicateOf == nil)
        #expect(a.sha256 == b.sha256)

        let failedOnce = loader.load(file: failingPath)
        let failedTwice = loader.load(file: failingPath)
        #expect(failedOnce.error?.stage == .initialization)
        #expect(failedTwice.error == failedOnce.error)

        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0 == "\(package.name) init" }.count == 1)
        #expect(lines.filter { $0 == "\(failing.name) init" }.count == 1)
        // The cache holds one copy per content, named by its digest.
        let cached = try FileManager.default.contentsOfDirectory(atPath: directory.file("cache")).filter {
            $0.hasSuffix(".so")
        }
        #expect(Set(cached) == Set([a.sha256!, failedOnce.sha256!].map { "\($0).so" }))
    }

    @Test("a package rebuilt with new behaviour at the same path loads the new code; the old code keeps running")
    func rebuildAtSamePath() throws {
        let directory = try TemporaryDirectory("rebuild")
        var package = CorpusPackage()
        package.name = "rebuilt"
        let path = try package.build(in: directory.path, fileName: "librebuilt.so")
        let loader = PackageLoader(cacheDirectory: directory.file("cache"))
        let invoker = InProcessTaskInvoker()
        let request = TaskRequest(
            workflow: "corpus_flow",
            task: "only",
            tenant: "t",
            executionID: "e",
            attempt: 1,
            context: Array("{}".utf8)
        )

        let v1 = try #require(loader.load(file: path).package)
        #expect(
            invoker.invoke(request, in: v1, cancellation: TaskCancellation())
                == .succeeded(output: Array(#"{"impl":"v1","task":"only","attempt":1}"#.utf8))
        )

        package.behaviour = "v2"
        try package.build(in: directory.path, fileName: "librebuilt.so")
        let v2 = try #require(loader.load(file: path).package)
        #expect(v2.sha256 != v1.sha256)
        #expect(v2.imagePath != v1.imagePath)
        #expect(
            invoker.invoke(request, in: v2, cancellation: TaskCancellation())
                == .succeeded(output: Array(#"{"impl":"v2","task":"only","attempt":1}"#.utf8))
        )
        #expect(
            invoker.invoke(request, in: v1, cancellation: TaskCancellation())
                == .succeeded(output: Array(#"{"impl":"v1","task":"only","attempt":1}"#.utf8))
        )
    }

    @Test("a cache directory writable by other users is refused")
    func unsafeCache() throws {
        let directory = try TemporaryDirectory("cache")
        let cache = directory.file("cache")
        try FileManager.default.createDirectory(
            atPath: cache,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o777]
        )
        chmod(cache, 0o777)
        let path = try CorpusPackage().build(in: directory.path, fileName: "lib.so")
        let report = PackageLoader(cacheDirectory: cache).load(file: path)
        #expect(report.error?.stage == .cache)
        #expect(report.error?.reason.contains("writable by other users") == true)
    }

    @Test(
        "a package whose init blocks holds up neither another package's load nor the loader: init runs outside its lock",
        .timeLimit(.minutes(1))
    )
    func initOutsideLock() throws {
        let directory = try TemporaryDirectory("loader-blocking-init")
        let gate = directory.file("gate")
        #expect(mkfifo(gate, 0o600) == 0)
        var blocking = CorpusPackage()
        blocking.name = "blocking"
        blocking.workflows = [("blocking_flow", [.init("only")])]
        // Opening a FIFO to read waits for a writer: the test is the writer.
        blocking.initPrologue = "{ FILE *gate = fopen(\"\(gate)\", \"r\"); if (gate) { fgetc(gate); fclose(gate); } }"
        let blockingPath = try blocking.build(in: directory.path, fileName: "blocking.so")
        let otherPath = try CorpusPackage().build(in: directory.path, fileName: "other.so")
        let loader = PackageLoader(cacheDirectory: directory.file("cache"))

        let inInit = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let blocked = Mutex<PackageReport?>(nil)
        Thread.detachNewThread {
            let report = loader.load(file: blockingPath) { stage in
                if stage == .initialization { inInit.signal() }
            }
            blocked.withLock { $0 = report }
            finished.signal()
        }
        inInit.wait()
        // The blocking package is inside its init now; another package loads meanwhile.
        let other = loader.load(file: otherPath)
        #expect(other.isLoaded, "\(other.error.map(String.init(describing:)) ?? "")")
        #expect(blocked.withLock { $0 } == nil)

        let writer = open(gate, O_WRONLY)
        #expect(writer >= 0)
        _ = write(writer, "x", 1)
        close(writer)
        finished.wait()
        let report = try #require(blocked.withLock { $0 })
        #expect(report.isLoaded, "\(report.error.map(String.init(describing:)) ?? "")")
        // The same content again comes from the first load; its init does not run (and block) a second time.
        #expect(loader.load(file: blockingPath).package?.sha256 == report.package?.sha256)
    }
}
