/// The one way package files become workflows a host can start: probe → load → validate → register.
///
/// `cloacina run`, `serve` (every reload), `check`, `workflows list` and the benchmark all load through it, so a
/// file is judged the same everywhere: the same stages, the same rejection text.
///
/// - **probe** (with ``probe``): each file is loaded first in a child process (``PackageProbe``), so a package that
///   crashes or hangs while loading is rejected at the stage it reached instead of taking the caller down.
/// - **load** (with ``init(probe:loader:)``): the files that passed are loaded into this process (``PackageLoader``:
///   ELF checks, hash, content-addressed cache, `dlopen`, info, init). Or **register** (with
///   ``init(probe:registeringWith:)``, for process isolation): each file that passed is copied into the loader's
///   content-addressed cache and registered from the probe's verified report alone, with no entry points
///   (``LoadedPackage/runsInThisProcess`` is false): no constructor, init or task of it ever runs in this process.
///   Or neither (``init(probe:)``): the pipeline stops after the probe, what `check` needs.
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
        case isolated(PackageProbe, then: AfterProbe)
        case inProcess(PackageLoader)
    }

    /// What happens to a file the probe accepted.
    private enum AfterProbe {
        case nothing
        case load(PackageLoader)
        case register(PackageLoader)
        /// Loaded here when `invoker` runs the package's tasks here, registered otherwise.
        case forInvoker(PackageLoader, any TaskInvoker)
    }

    /// A pipeline that loads each file in a child process with `probe` (when given; else it trusts files not to
    /// crash while loading), then into this process with `loader`.
    public init(probe: PackageProbe? = nil, loader: PackageLoader) {
        stages = probe.map { .isolated($0, then: .load(loader)) } ?? .inProcess(loader)
    }

    /// A pipeline that only probes: each file is loaded in a child process and nothing runs in this one (`check`).
    public init(probe: PackageProbe) {
        stages = .isolated(probe, then: .nothing)
    }

    /// A pipeline for process isolation: each file is loaded in a child process with `probe`, and each one that
    /// passed is copied into `loader`'s cache and registered from the probe's report, never opened here (see
    /// ``LoadedPackage``). Its reports carry packages whose tasks must run in worker processes.
    public init(probe: PackageProbe, registeringWith loader: PackageLoader) {
        stages = .isolated(probe, then: .register(loader))
    }

    /// The pipeline for packages whose tasks `invoker` runs. An invoker that runs package code in worker processes
    /// (``TaskInvoker/loadingProbe(cacheDirectory:)``) gets ``init(probe:registeringWith:)`` for every package it
    /// does not run here (``TaskInvoker/runsInThisProcess(package:)``): the host never opens those files, so no
    /// constructor, init or task of theirs runs here; `probe` when given, else the invoker's own. The packages it
    /// runs here, and every package of any other invoker, are loaded as ``init(probe:loader:)`` does.
    public init(probe: PackageProbe?, loader: PackageLoader, for invoker: any TaskInvoker) {
        if let own = invoker.loadingProbe(cacheDirectory: "\(loader.cacheDirectory)/loading") {
            self.init(stages: .isolated(probe ?? own, then: .forInvoker(loader, invoker)))
        } else {
            self.init(probe: probe, loader: loader)
        }
    }

    private init(stages: Stages) {
        self.stages = stages
    }

    /// Loads files in child processes first; nil when files load in this process only.
    public var probe: PackageProbe? {
        if case .isolated(let probe, _) = stages { return probe }
        return nil
    }

    /// Loads `files` in order, each through the probe and then, if it passed, the stage after it (load here or
    /// register). A report carries its ``PackageReport/package`` when the file was loaded or registered. Conflicts
    /// between the files are not judged: see ``load(directory:)`` and ``PackageCatalog``.
    public func load(files: [String]) -> [PackageReport] {
        switch stages {
        case .inProcess(let loader): return files.map { loader.load(file: $0) }
        case .isolated(let probe, let after): return probe.load(files: files).map { Self.finish($0, after) }
        }
    }

    /// Loads `files` like ``load(files:)`` but returns, when the probe has a ``PackageProbe/slowAfter``, once every
    /// file is decided or slow: the reports of the decided ones (nil for the others) and the slow ones, still
    /// loading in their own processes; their ``PendingLoads/wait()`` runs the rest of the pipeline for them.
    public func load(files: [String], settling: Bool) -> (reports: [PackageReport?], pending: PendingLoads?) {
        guard case .isolated(let probe, let after) = stages else { return (load(files: files), nil) }
        let (reports, pending) = probe.load(files: files, settling: settling)
        return (reports.map { $0.map { Self.finish($0, after) } }, pending?.then { Self.finish($0, after) })
    }

    /// Runs the stages after the probe (load here, or register) on `report`, a report of this pipeline's probe or
    /// of one like it; a pipeline without a probe loads the report's file. The file must still have the content
    /// the probe saw.
    public func complete(_ report: PackageReport) -> PackageReport {
        switch stages {
        case .inProcess(let loader):
            return report.isLoaded ? loader.load(file: report.file, expecting: report.sha256) : report
        case .isolated(_, let after): return Self.finish(report, after)
        }
    }

    /// A report of the probe after the stage that follows it.
    private static func finish(_ report: PackageReport, _ after: AfterProbe) -> PackageReport {
        guard report.isLoaded else { return report }
        switch after {
        case .nothing: return report
        case .load(let loader): return loader.load(file: report.file, expecting: report.sha256)
        case .register(let loader): return loader.register(probed: report)
        case .forInvoker(let loader, let invoker):
            guard let name = report.info?.name, invoker.runsInThisProcess(package: name) else {
                return loader.register(probed: report)
            }
            return loader.load(file: report.file, expecting: report.sha256)
        }
    }

    /// Loads every `*.so` of `directory` in name order (hidden files, such as installs in progress, skipped) and
    /// rejects packages that claim a name a file before them claimed; with a probe, conflicts are judged on the
    /// probe's reports, so a rejected file's code never runs here. Throws only when the directory cannot be read.
    public func load(directory: String) throws(PackageLoadError) -> [PackageReport] {
        let files = try PackageLoader.files(in: directory)
        switch stages {
        case .inProcess(let loader): return PackageCatalog.resolveConflicts(files.map { loader.load(file: $0) })
        case .isolated(let probe, let after):
            return PackageCatalog.resolveConflicts(probe.load(files: files)).map { report in
                guard report.isLoaded else { return report }
                var loaded = Self.finish(report, after)
                if loaded.isLoaded { loaded.duplicateOf = loaded.duplicateOf ?? report.duplicateOf }
                return loaded
            }
        }
    }
}
