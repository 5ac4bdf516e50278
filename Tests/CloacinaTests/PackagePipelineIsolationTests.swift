import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

/// Process isolation's half of loading: packages registered from the probe's report, with no code in this process.
@Suite("Registering packages from the probe's report")
struct PackagePipelineIsolationTests {
    @Test("a package registered from its probe report runs none of its code here and serves from the cached image")
    func registeredFromReport() throws {
        let directory = try TemporaryDirectory("pipeline-register")
        let record = directory.file("pids")
        var package = CorpusPackage()
        package.name = "reported"
        package.workflows = [("reported_flow", [.init("first"), .init("second", after: ["first"])])]
        // Every process that opens the library says so.
        package.extraDeclarations = """
            #include <unistd.h>
            __attribute__((constructor)) static void opened(void) {
                FILE *out = fopen("\(record)", "a");
                if (out) { fprintf(out, "%d\\n", (int)getpid()); fclose(out); }
            }
            """
        let file = try package.build(in: directory.path, fileName: "reported.so")
        let probe = PackageProbe(cloacina: TestEnvironment.cloacinaExecutable, cacheDirectory: directory.file("probe"))
        let loader = PackageLoader(cacheDirectory: directory.file("packages"))
        let pipeline = PackagePipeline(probe: probe, registeringWith: loader)

        let report = try #require(pipeline.load(files: [file]).first)
        let loaded = try #require(report.package, "\(String(describing: report.error))")
        #expect(!loaded.runsInThisProcess)
        #expect(loaded.entryPoint(workflow: "reported_flow", task: "first") == nil)
        #expect(loaded.info.name == "reported")
        #expect(loaded.workflows.map(\.name) == ["reported_flow"])
        #expect(loaded.workflow(named: "reported_flow")?.tasks.map(\.id) == ["first", "second"])
        let sha256 = try #require(loaded.sha256)
        #expect(report.sha256 == sha256)
        let image = try #require(loaded.imagePath)
        #expect(image == directory.file("packages/\(sha256).so"))
        #expect(FileManager.default.contents(atPath: image) == FileManager.default.contents(atPath: file))

        // The constructor ran in the probe's process only; this process never mapped the file or its copy.
        let pids = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(!pids.isEmpty)
        #expect(!pids.contains(getpid()))
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        #expect(!maps.contains(image) && !maps.contains(file))

        // A registry serves it like any package.
        let registry = WorkflowRegistry()
        try registry.register(loaded)
        #expect(registry.currentPackages.map(\.sha256) == [sha256])

        // The same content registers once.
        let again = try #require(pipeline.load(files: [file]).first?.package)
        #expect(again === loaded)
    }

    @Test("the pipeline for a ProcessTaskInvoker opens here only the packages it is told to run here")
    func perPackage() throws {
        let directory = try TemporaryDirectory("pipeline-per-package")
        let record = directory.file("pids")
        var files: [String] = []
        for name in ["trusted", "untrusted"] {
            var package = CorpusPackage()
            package.name = name
            package.workflows = [("\(name)_flow", [.init("only")])]
            package.extraDeclarations = """
                #include <unistd.h>
                __attribute__((constructor)) static void opened(void) {
                    FILE *out = fopen("\(record)", "a");
                    if (out) { fprintf(out, "\(name) %d\\n", (int)getpid()); fclose(out); }
                }
                """
            files.append(try package.build(in: directory.path, fileName: "\(name).so"))
        }
        var options = ProcessTaskInvoker.Options(command: [TestEnvironment.cloacinaExecutable, "worker"])
        options.inProcessPackages = ["trusted"]
        let invoker = ProcessTaskInvoker(options: options)
        defer { invoker.shutdown() }
        let pipeline = PackagePipeline(
            probe: nil,
            loader: PackageLoader(cacheDirectory: directory.file("packages")),
            for: invoker
        )
        let loaded = pipeline.load(files: files).compactMap(\.package)
        #expect(loaded.map(\.info.name) == ["trusted", "untrusted"])
        #expect(loaded.map(\.runsInThisProcess) == [true, false])
        let here = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasSuffix(" \(getpid())") }
        #expect(here == ["trusted \(getpid())"])

        // The trusted package's task runs here, the other's in a worker.
        for (package, name) in zip(loaded, ["trusted", "untrusted"]) {
            let request = TaskRequest(
                workflow: "\(name)_flow",
                task: "only",
                tenant: "default",
                executionID: "e",
                attempt: 1,
                context: Array("{}".utf8),
                maximumOutputBytes: 1 << 20
            )
            #expect(invoker.invoke(request, in: package, cancellation: TaskCancellation()).succeeded)
        }
        #expect(invoker.idleWorkers == [try #require(loaded[1].sha256): 1])
    }
}
