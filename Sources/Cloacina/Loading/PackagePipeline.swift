/// The one way package files become workflows a host can start: probe → load → validate → register.
///
/// `cloacina run`, `serve` (every reload), `check`, `workflows list` and the benchmark all load through it, so a
/// file is judged the same everywhere: the same stages, the same rejection text.
///
/// - **probe** (with ``probe``): each file is loaded first in a child process (``PackageProbe``), so a package that
///   crashes or hangs while loading is rejected at the stage it reached instead of taking the caller down.
/// - **load** (with ``loader``): the files that passed are loaded into this process (``PackageLoader``: ELF checks,
///   hash, content-addressed cache, `dlopen`, info, init). Without a loader the pipeline stops after the probe: what
///   `check` needs, running no package code in the caller.
/// - **validate**: every workflow's graph is checked (by the loader, here or in the probe), and for a directory the
///   packages that claim a name another file claimed first are rejected (``PackageCatalog``).
/// - **register**: the reports carry the loaded packages, for a runner's configuration
///   (``DefaultRunner/Configuration/packages``, as `run` does), ``DefaultRunner/register(package:)``, or a host's
///   next generation (`serve`).
///
/// Blocking: it runs package code and waits for child processes; call it off the cooperative pool.
public struct PackagePipeline: Sendable {
    private let stages: Stages

    private enum Stages {
        case isolated(PackageProbe, then: PackageLoader?)
        case inProcess(PackageLoader)
    }

    /// A pipeline that loads each file in a child process with `probe` (when given; else it trusts files not to
    /// crash while loading), then into this process with `loader`.
    public init(probe: PackageProbe? = nil, loader: PackageLoader) {
        stages = probe.map { .isolated($0, then: loader) } ?? .inProcess(loader)
    }

    /// A pipeline that only probes: each file is loaded in a child process and nothing runs in this one (`check`).
    public init(probe: PackageProbe) {
        stages = .isolated(probe, then: nil)
    }

    /// Loads files in child processes first; nil when files load in this process only.
    public var probe: PackageProbe? {
        if case .isolated(let probe, _) = stages { return probe }
        return nil
    }

    /// Loads into this process what the probe accepted; nil when the pipeline stops after the probe.
    public var loader: PackageLoader? {
        switch stages {
        case .isolated(_, let loader): return loader
        case .inProcess(let loader): return loader
        }
    }

    /// Loads `files` in order, each through the probe and then, if it passed and the pipeline has a loader, into
    /// this process. A report carries its ``PackageReport/package`` only when the file was loaded here. Conflicts
    /// between the files are not judged: see ``load(directory:)`` and ``PackageCatalog``.
    public func load(files: [String]) -> [PackageReport] {
        switch stages {
        case .inProcess(let loader): return files.map { loader.load(file: $0) }
        case .isolated(let probe, let loader):
            return probe.load(files: files).map { report in
                guard let loader, report.isLoaded else { return report }
                return loader.load(file: report.file)
            }
        }
    }

    /// Loads every `*.so` of `directory` in name order (hidden files, such as installs in progress, skipped) and
    /// rejects packages that claim a name a file before them claimed; with a probe, conflicts are judged on the
    /// probe's reports, so a rejected file's code never runs here. Throws only when the directory cannot be read.
    public func load(directory: String) throws(PackageLoadError) -> [PackageReport] {
        let files = try PackageLoader.files(in: directory)
        switch stages {
        case .inProcess(let loader): return PackageCatalog.resolveConflicts(files.map { loader.load(file: $0) })
        case .isolated(let probe, let loader):
            return PackageCatalog.resolveConflicts(probe.load(files: files)).map { report in
                guard let loader, report.isLoaded else { return report }
                var loaded = loader.load(file: report.file)
                if loaded.isLoaded { loaded.duplicateOf = loaded.duplicateOf ?? report.duplicateOf }
                return loaded
            }
        }
    }
}
