import ArgumentParser
import Cloacina
import CloacinaJSON

#if canImport(Glibc)
import Glibc
#endif

/// Loads package files the way `check` and `workflows list` need: each in its own process (so a damaged file is
/// reported, not fatal), with a throw-away image cache, then prints the reports and sets the exit status.
struct PackageInspection {
    let timeout: Duration

    /// Loads each file in `files` (in order) and resolves conflicts between them.
    func inspect(files: [String]) throws -> [PackageReport] {
        try withTemporaryCache { probe in
            PackageCatalog.resolveConflicts(probe.load(files: files))
        }
    }

    /// Loads every `*.so` file of `directory`.
    func inspect(directory: String) throws -> [PackageReport] {
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw UsageError(message: "workflow directory \(directory) does not exist or is not a directory")
        }
        return try withTemporaryCache { probe in
            do throws(PackageLoadError) {
                return try probe.loadDirectory(directory)
            } catch {
                throw UsageError(message: "cannot read workflow directory \(directory): \(error.reason)")
            }
        }
    }

    private func withTemporaryCache<T>(_ body: (PackageProbe) throws -> T) throws -> T {
        let base = Environment.value("TMPDIR") ?? "/tmp"
        var template = Array("\(base)/cloacina-check-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw UsageError(
                message: "cannot create a temporary directory in \(base): \(String(cString: strerror(errno)))"
            )
        }
        let cache = String(cString: created)
        defer { PackageProbe.removeCache(cache) }
        let probe = PackageProbe(command: ["/proc/self/exe", "probe-package", "--cache", cache], timeout: timeout)
        return try body(probe)
    }

    /// Prints `reports` in `format`, then fails with exit status 1 if any file was rejected.
    static func finish(_ reports: [PackageReport], format: OutputFormat) throws {
        switch format {
        case .json:
            print(JSONValue.array(reports.map(\.json)).serializedString(pretty: true))
        case .text:
            print(ReportText.render(reports), terminator: "")
        }
        if reports.contains(where: { !$0.isLoaded }) {
            throw ExitCode.failure
        }
    }
}
