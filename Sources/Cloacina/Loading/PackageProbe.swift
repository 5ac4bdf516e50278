internal import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// Loads package files in separate processes, so a package that crashes, exits or hangs while loading is reported
/// instead of taking the caller down, and is blamed alone.
///
/// `dlopen` runs a library's constructors and the package's init runs its code; a damaged or hostile file can
/// crash, exit or hang in either, and nothing inside a process can recover from that. The probe runs the ordinary
/// ``PackageLoader`` in a child (the command given: the host binary's hidden `worker` subcommand, which must end up
/// in ``runLoadingProcess(logger:)``) and judges what comes back.
///
/// **The loading process.** Its command line is `<cloacina> worker` and nothing else, and its environment is the
/// host's without secrets (``childEnvironment()``): the same as a worker process's (which loads its package through
/// the same protocol before it runs tasks), so a package cannot tell from its `argv` or environment that it is
/// being probed, nor which files are probed with it. What to load arrives over the private channel
/// (``ProbeChannel``), one file at a time.
///
/// **What the parent believes.** Nothing the child writes to standard output or standard error counts (it goes to
/// the caller's standard error, as a package's log would). Per file, over the channel: the parent sends the file;
/// the child reports the stages it enters; when the load has returned it says so, and only then does the parent
/// send a fresh 32-byte nonce; the child answers with the report and the SHA-256 of nonce and report. The nonce is
/// born after the file's constructors and init have returned, so a report a package wrote earlier (to standard
/// output, or blindly to every socket it can find) fails the check, and any frame out of this order, from another
/// process (the kernel names the sender) or with a bad digest ends the process and blames the file being loaded,
/// as forged. The parent then checks the report against what it knows itself: the file's path and SHA-256 (it read
/// and hashed the file), and every workflow's graph. Reports count only when the process then exits with status 0
/// when told to: a report followed by a crash, or by `exit` from a constructor, is discarded.
///
/// What the protocol cannot stop, and does not claim to: code that keeps running after its load returned (a thread
/// it started) lives in the child's memory and can answer challenges itself. Such a package can lie only about
/// itself (it could register anything anyway), and only in this throw-away process: with process isolation the
/// host never runs package code at all (``PackagePipeline/init(probe:registeringWith:)``), which is the protection
/// that holds against a hostile package; in-process loading trusts the drop directory.
///
/// **Blame.** A process that ends abnormally blames the file it was loading, alone: at once if it crashed or hung
/// on the first file it loaded, or on a time-out or a forged frame; otherwise (an earlier file's leftover thread
/// could be the cause) that file is loaded again in a process of its own, and blamed only if it fails there too. The
/// other files of the batch, loaded or not, are loaded again in a new process. A process that ends abnormally after
/// its last report (a destructor that crashes) has each of its files loaded again alone.
///
/// **Slow files.** With ``slowAfter``, a file still loading after that long keeps its process to itself and the
/// other files move on to a new one, so ``load(files:settling:)`` can return what loaded while the slow ones go on
/// (``PendingLoads``).
public struct PackageProbe: Sendable {
    /// The command that runs ``runLoadingProcess(logger:)``; nothing is appended to it.
    public var command: [String]
    /// Where the loading processes keep their throw-away copies of the images (each in a directory of its own,
    /// removed when it ends).
    public var cacheDirectory: String
    /// How long one file may take to load; the process is then killed and the file blamed.
    public var timeout: Duration
    /// How long a file may load before the files after it move on to another process; nil: never.
    public var slowAfter: Duration?

    public init(command: [String], cacheDirectory: String, timeout: Duration? = nil, slowAfter: Duration? = nil) {
        self.command = command
        self.cacheDirectory = cacheDirectory
        self.timeout = timeout ?? Self.defaultTimeout
        self.slowAfter = slowAfter
    }

    /// The probe of the `cloacina` executable at `executable` (its hidden `worker` command), keeping its
    /// throw-away image copies under `cacheDirectory`.
    public init(
        cloacina executable: String = "/proc/self/exe",
        cacheDirectory: String,
        timeout: Duration? = nil,
        slowAfter: Duration? = PackageProbe.defaultSlowAfter
    ) {
        self.init(
            command: [executable, Self.subcommand],
            cacheDirectory: cacheDirectory,
            timeout: timeout,
            slowAfter: slowAfter
        )
    }

    /// The hidden subcommand of the host binary that runs a loading (or worker) process.
    public static let subcommand = "worker"

    /// The time one file may take to load unless a probe says otherwise: `CLOACINA_LOAD_TIMEOUT` (seconds, may
    /// be fractional), else 60 s.
    public static var defaultTimeout: Duration {
        guard let text = getenv("CLOACINA_LOAD_TIMEOUT").map({ String(cString: $0) }), let seconds = Double(text),
            seconds > 0
        else { return .seconds(60) }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// When a file counts as slow unless a probe says otherwise: `CLOACINA_LOAD_SLOW_AFTER` (seconds, may be
    /// fractional; 0 for never), else 2 s.
    public static var defaultSlowAfter: Duration? {
        guard let text = getenv("CLOACINA_LOAD_SLOW_AFTER").map({ String(cString: $0) }), let seconds = Double(text),
            seconds >= 0
        else { return .seconds(2) }
        return seconds == 0 ? nil : .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// Loads `file` in a child process and reports the outcome. Never crashes the caller; blocks its thread.
    public func load(file: String) -> PackageReport {
        load(files: [file])[0]
    }

    /// Loads `files` in as few child processes as their behaviour allows and reports each, in order, once every
    /// one is decided. Blocks the caller's thread.
    public func load(files: [String]) -> [PackageReport] {
        let run = ProbeRun(probe: self, files: files)
        run.drive(untilSettled: false)
        return run.reports.map { $0! }
    }

    /// Loads `files` like ``load(files:)`` but, when `settling` is true and ``slowAfter`` is set, returns once
    /// every file is decided or slow: the reports of the decided ones (nil for the others), and the slow ones
    /// still loading. Blocks the caller's thread.
    public func load(files: [String], settling: Bool) -> (reports: [PackageReport?], pending: PendingLoads?) {
        let run = ProbeRun(probe: self, files: files)
        run.drive(untilSettled: settling)
        guard run.isFinished else { return (run.reports, PendingLoads(run)) }
        return (run.reports, nil)
    }

    /// The environment of a loading or worker process: this process's, without variables that carry secrets or
    /// say where they are (`DATABASE_URL`, `CLOACINA_DATABASE_URL`, tenants' connection strings
    /// `CLOACINA_TENANT_URL_*` and their directory `CLOACINA_TENANT_CREDENTIALS`, names containing `PASSWORD`,
    /// `SECRET` or `TOKEN`, and any value holding a URL with a password), with Swift's backtracer off (a crash is
    /// reported by the parent). Such a process never needs a database: the host stores what it reports.
    public static func childEnvironment() -> [String] {
        var variables: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            cursor += 1
            let text = String(cString: entry)
            guard let equals = text.firstIndex(of: "=") else { continue }
            let name = text[..<equals].uppercased()
            let value = String(text[text.index(after: equals)...])
            if name == "DATABASE_URL" || name == "CLOACINA_DATABASE_URL" || name == "SWIFT_BACKTRACE"
                || name.hasPrefix(TenantCredentialSource.environmentPrefix) || name == "CLOACINA_TENANT_CREDENTIALS"
                || ["PASSWORD", "SECRET", "TOKEN"].contains(where: { name.contains($0) })
                || ConnectionStringRedaction.redact(value) != value
            {
                continue
            }
            variables.append(text)
        }
        return variables + ["SWIFT_BACKTRACE=enable=no"]
    }

    /// Removes a probe cache directory with whatever loading processes that crashed left in it.
    public static func removeCache(_ directory: String) {
        for name in (try? FileSystem.listDirectory(directory, includingHidden: true)) ?? [] {
            let path = "\(directory)/\(name)"
            removeFlatDirectory(path)
            unlink(path)
        }
        rmdir(directory)
    }

    /// Removes a directory holding only files.
    static func removeFlatDirectory(_ path: String) {
        for name in (try? FileSystem.listDirectory(path, includingHidden: true)) ?? [] { unlink("\(path)/\(name)") }
        rmdir(path)
    }

    /// Writes `bytes` to standard error (what the packages wrote while loading belongs to the caller's log).
    static func forward(_ bytes: [UInt8]) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(2, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }
}

/// Files a ``PackageProbe`` is still loading after ``PackageProbe/load(files:settling:)`` returned: slow ones, each
/// in a loading process of its own.
public final class PendingLoads: Sendable {
    private let run: ProbeRun.Handle
    private let finish: @Sendable (PackageReport) -> PackageReport
    /// The files still loading, in the order given to the probe.
    public let files: [String]

    init(_ run: ProbeRun) {
        self.files = run.pendingFiles
        self.run = ProbeRun.Handle(run)
        self.finish = { $0 }
    }

    private init(_ other: PendingLoads, then next: @escaping @Sendable (PackageReport) -> PackageReport) {
        self.files = other.files
        self.run = other.run
        let first = other.finish
        self.finish = { next(first($0)) }
    }

    /// The same pending loads, each report passed through `next` once decided.
    func then(_ next: @escaping @Sendable (PackageReport) -> PackageReport) -> PendingLoads {
        PendingLoads(self, then: next)
    }

    /// Waits until every pending file is decided and returns their reports, in the order of ``files``. Blocks the
    /// caller's thread; call it once.
    public func wait() -> [PackageReport] {
        run.drive().map(finish)
    }

    /// Kills the loading processes: the files not yet decided are rejected ("cancelled"). Any thread; idempotent.
    public func cancel() {
        run.cancel()
    }
}
