import Cloacina
import CloacinaDaemon
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// A daemon serving `packages` generated packages while executions run; every package is replaced by a new
    /// version at once and the daemon reloads. Measures the time from the request until the new versions serve,
    /// and counts executions that failed (there must be none).
    func reload(packages count: Int) async throws -> JSONValue {
        let drop = "\(directory)/reload-drop"
        let staging = "\(directory)/reload-staging"
        mkdir(drop, 0o700)
        mkdir(staging, 0o700)
        for index in 0..<count {
            try Self.compilePackage(index: index, version: 1, into: drop)
            try Self.compilePackage(index: index, version: 2, into: staging)
        }
        var configuration = Daemon.Configuration(
            workflowsDirectory: drop,
            storage: backend == .sqlite
                ? .sqliteFiles(directory: "\(directory)/reload-tenants") : .postgresSchemas(url: databaseURL ?? ""),
            tenants: .only([storageName("reload")])
        )
        if case .sqliteFiles(let path) = configuration.storage { mkdir(path, 0o700) }
        configuration.runner = self.configuration("reload_template")
        configuration.runner.packages = []
        configuration.probe = Self.probe(cache: "\(directory)/probe-cache")
        guard case .only(let tenants) = configuration.tenants, let tenant = tenants.first else { return .null }
        let daemon = Daemon(configuration: configuration)
        try await daemon.start()

        // Load: callers running the generated workflows until told to stop.
        let stop = Counter()
        let failed = Counter()
        let ran = Counter()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for caller in 0..<8 {
                    group.addTask {
                        var index = caller
                        while stop.current == 0 {
                            do {
                                let result = try await daemon.run(
                                    tenant: tenant,
                                    workflow: "reload_wf\(index % count)",
                                    contextJSON: Array("{}".utf8)
                                )
                                if result.status != .completed { failed.add() }
                            } catch {
                                failed.add()
                            }
                            ran.add()
                            index += 1
                        }
                    }
                }
            }
        }
        while ran.current < 50 { await Task.yield() }
        for index in 0..<count {
            guard rename("\(staging)/libreload\(index).so", "\(drop)/libreload\(index).so") == 0 else {
                throw BenchError("cannot install package \(index): \(String(cString: strerror(errno)))")
            }
        }
        let clock = ContinuousClock()
        let started = clock.now
        let report = await daemon.reload()
        let elapsed = (clock.now - started).milliseconds
        let before = ran.current
        while ran.current < before + 50 { await Task.yield() }
        stop.add()
        await load.value
        let served = daemon.registry.currentPackages.filter { $0.info.version == "2" }.count
        await daemon.drain()
        var result = line(.reload, n: count, samples: [elapsed])
        result["reload_ms"] = .double((elapsed * 1000).rounded() / 1000)
        result["loaded"] = .int(report.loaded.count)
        result["new_version_serving"] = .int(served)
        result["executions"] = .int(ran.current)
        result["failed"] = .int(failed.current)
        result["isolated_loading"] = .bool(configuration.probe != nil)
        return result
    }

    /// The child-process probe the daemon uses, when the `cloacina` executable sits beside this one.
    static func probe(cache: String) -> PackageProbe? {
        hostExecutable.map { PackageProbe(cloacina: $0, cacheDirectory: cache) }
    }

    /// The `cloacina` executable beside this one, if there is one.
    static var hostExecutable: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let executable = String(cString: buffer)
        let host = String(executable[..<(executable.lastIndex(of: "/") ?? executable.endIndex)] + "/cloacina")
        return access(host, X_OK) == 0 ? host : nil
    }

    /// Compiles package `reload<index>` (workflow `reload_wf<index>`, one no-op task) at `version`.
    static func compilePackage(index: Int, version: Int, into directory: String) throws {
        let source = """
            #include "cloacina.h"
            static const cloacina_package_descriptor info = {
                sizeof(cloacina_package_descriptor), CLOACINA_ABI_MAJOR, CLOACINA_ABI_MINOR, 0, "reload\(index)", "\(version)", 0,
            };
            __attribute__((visibility("default"))) const cloacina_package_descriptor *cloacina_package_info(void) { return &info; }
            static int noop(void *u, const cloacina_task_call *c, cloacina_output *o) { (void)u; (void)c; (void)o; return \(version - 1) * 0; }
            __attribute__((visibility("default"))) int cloacina_package_init(const cloacina_host_api *api, cloacina_registrar *r) {
                cloacina_workflow_def w = { sizeof w, "reload_wf\(index)", 0 };
                api->register_workflow(r, &w);
                cloacina_task_def t = {0};
                t.struct_size = sizeof t; t.workflow = "reload_wf\(index)"; t.id = "t"; t.function = noop;
                return api->register_task(r, &t);
            }
            """
        let sourcePath = "\(directory)/.reload\(index).c"
        guard let file = fopen(sourcePath, "w") else { throw BenchError("cannot write \(sourcePath)") }
        fputs(source, file)
        fclose(file)
        defer { unlink(sourcePath) }
        let header = Self.headerDirectory
        let command =
            "cc -std=c99 -O1 -shared -fPIC -I '\(header)' -o '\(directory)/libreload\(index).so' '\(sourcePath)'"
        guard system(command) == 0 else { throw BenchError("cannot compile a reload package (is cc installed?)") }
    }

    /// `sdk/Sources/CCloacinaABI/include` of this checkout.
    static var headerDirectory: String {
        var path = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        path.removeLast(3)
        return path.joined(separator: "/") + "/sdk/Sources/CCloacinaABI/include"
    }
}
