import ArgumentParser
import Cloacina
import CloacinaDaemon
import CloacinaJSON

#if canImport(Glibc)
import Glibc
#endif

/// How `run`, `check` and `workflows list` load packages: through the engine's ``PackagePipeline``, each file
/// probed in a child process (so a damaged file is reported, not fatal) with its image copies in a temporary
/// directory removed afterwards; `run` then loads here only the one it runs.
enum CommandPipeline {
    /// Runs `body` with a pipeline that only probes: each file loads in a child process, none here.
    static func withTemporaryProbe<T>(timeout: Duration, _ body: (PackagePipeline) throws -> T) throws -> T {
        let base = Environment.value("TMPDIR") ?? "/tmp"
        var template = Array("\(base)/cloacina-check-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw UsageError(
                message: "cannot create a temporary directory in \(base): \(String(cString: strerror(errno)))"
            )
        }
        let cache = String(cString: created)
        defer { PackageProbe.removeCache(cache) }
        let probe = PackageProbe(cacheDirectory: cache, timeout: timeout)
        return try body(PackagePipeline(probe: probe))
    }

    /// Loads every package of `directory` with `pipeline` (see ``PackagePipeline/load(directory:)``); a missing or
    /// unreadable directory is a usage error.
    static func load(directory: String, with pipeline: PackagePipeline) throws -> [PackageReport] {
        try requireDirectory(directory)
        do throws(PackageLoadError) {
            return try pipeline.load(directory: directory)
        } catch {
            throw UsageError(message: "cannot read workflow directory \(directory): \(error.reason)")
        }
    }

    /// Throws a usage error unless `directory` is a directory.
    static func requireDirectory(_ directory: String) throws {
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw UsageError(message: "workflow directory \(directory) does not exist or is not a directory")
        }
    }

    /// Prints `reports` in `format`, then fails with exit status 1 if any file was rejected.
    /// Versions in `quarantine` (by SHA-256) are marked as quarantined.
    static func finish(
        _ reports: [PackageReport],
        format: OutputFormat,
        quarantine: [String: QuarantineEntry] = [:]
    ) throws {
        switch format {
        case .json:
            let entries = reports.map { report in
                guard let entry = report.sha256.flatMap({ quarantine[$0] }), case .object(var fields) = report.json
                else { return report.json }
                fields["quarantine"] = entry.json
                return .object(fields)
            }
            print(JSONValue.array(entries).serializedString(pretty: true))
        case .text:
            print(ReportText.render(reports, quarantine: quarantine), terminator: "")
        }
        if reports.contains(where: { !$0.isLoaded }) {
            throw ExitCode.failure
        }
    }
}
