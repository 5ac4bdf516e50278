internal import CloacinaJSON
internal import CloacinaModel
public import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// Loads package files in a separate process, so a package that crashes or hangs while loading is reported
/// instead of taking the caller down.
///
/// `dlopen` runs a library's constructors and the package's init runs its code; a damaged or hostile file can
/// crash in either, and nothing inside a process can recover from that. The probe runs the ordinary
/// ``PackageLoader`` in a child (the command given, which must end up calling ``serve(file:loader:)``), follows the
/// stages the child reports, and turns a crash or a timeout into a rejection at the stage that was running.
public struct PackageProbe: Sendable {
    /// The command that runs ``serve(file:loader:)``; the file's path is appended.
    public var command: [String]
    /// How long one file may take to load.
    public var timeout: Duration

    public init(command: [String], timeout: Duration = .seconds(60)) {
        self.command = command
        self.timeout = timeout
    }

    /// The probe of the `cloacina` executable at `executable` (its hidden `probe-package` command), keeping its
    /// throw-away image copies under `cacheDirectory`.
    public init(
        cloacina executable: String = "/proc/self/exe",
        cacheDirectory: String,
        timeout: Duration = .seconds(60)
    ) {
        self.init(command: [executable, "probe-package", "--cache", cacheDirectory], timeout: timeout)
    }

    /// Loads `file` in a child process and reports the outcome. Never crashes the caller; blocks its thread.
    public func load(file: String) -> PackageReport {
        load(files: [file])[0]
    }

    /// Loads `files` in one child process (one process start for many files) and reports each, in order. A file
    /// that crashes or hangs the child is rejected at the stage it reached, and the files after it are loaded
    /// again in a new child, so one bad file never costs the others their report. Blocks the caller's thread.
    public func load(files: [String]) -> [PackageReport] {
        var reports: [PackageReport?] = Array(repeating: nil, count: files.count)
        // Files rejected before any of their code would run need no child process.
        var pending: [(index: Int, report: PackageReport)] = []
        for (index, file) in files.enumerated() {
            switch PackageLoader.inspect(file: file) {
            case .rejected(let rejected): reports[index] = rejected
            case .candidate(let candidate): pending.append((index, candidate.report))
            }
        }
        while !pending.isEmpty {
            let outcome: ChildProcess.Outcome
            do {
                outcome = try ChildProcess.run(
                    command + pending.map { files[$0.index] },
                    environment: ["SWIFT_BACKTRACE": "enable=no"],
                    timeout: timeout
                )
            } catch {
                for (index, report) in pending {
                    reports[index] = report.rejected(PackageLoadError(.isolation, "\(error)"))
                }
                break
            }
            var current: Int?
            var stage = PackageLoadError.Stage.read
            var finished = 0
            for line in outcome.output.split(separator: UInt8(ascii: "\n")) {
                let text = String(decoding: line, as: UTF8.self)
                if text.hasPrefix("file "), let position = Int(text.dropFirst(5)), position < pending.count {
                    current = position
                    stage = .read
                } else if text.hasPrefix("stage "), let next = PackageLoadError.Stage(name: String(text.dropFirst(6))) {
                    stage = next
                } else if text.hasPrefix("report "), let position = current,
                    let json = try? JSONValue(parsing: Array(line.dropFirst(7))),
                    let decoded = PackageReport(json: json)
                {
                    reports[pending[position].index] = decoded
                    finished = position + 1
                    current = nil
                }
            }
            // What the packages logged while loading belongs to the caller's log, as if they had loaded here.
            Self.forward(outcome.errorOutput)
            if finished == pending.count { break }
            if outcome.termination == .exited(0) {
                for (index, report) in pending[finished...] {
                    reports[index] = report.rejected(
                        PackageLoadError(.isolation, "the loading process exited without a report")
                    )
                }
                break
            }
            // The child died or hung on the first file without a report: blame it, retry the rest.
            let culprit = pending[finished]
            reports[culprit.index] = culprit.report.rejected(
                PackageLoadError(
                    current == finished ? stage : .read,
                    reason(outcome) + Self.lastLine(of: outcome.errorOutput)
                )
            )
            pending.removeFirst(finished + 1)
        }
        return reports.map { $0! }
    }

    private func reason(_ outcome: ChildProcess.Outcome) -> String {
        switch outcome.termination {
        case .signalled(let signal):
            return "the package crashed the loading process with \(ChildProcess.signalName(signal))"
        case .timedOut:
            return "loading did not finish within \(timeout.inMilliseconds / 1000) s; the loading process was killed"
        case .exited(let status):
            return "the loading process exited with status \(status) without a report"
        }
    }

    /// ": <last non-empty line>" of what the child wrote to standard error, or "" when it wrote nothing.
    private static func lastLine(of errorOutput: [UInt8]) -> String {
        let lines = errorOutput.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        guard let last = lines.last(where: { $0.contains { !$0.isWhitespace } }) else { return "" }
        return ": " + trimmed(last)
    }

    private static func trimmed(_ text: String) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    /// The child's side: loads `files` in order with `loader`, writing for each a `file` line, each stage, and the
    /// report to standard output as lines the parent reads.
    /// The child side, with its copies of the images in a directory of its own under `cacheDirectory`, removed
    /// when it is done (and, if a crash left one behind, by the next probe): a probe keeps no copy of a package
    /// longer than it runs.
    public static func serve(files: [String], cacheDirectory: String, logger: Logger) {
        let own = "\(cacheDirectory)/run-\(getpid())"
        for name in (try? FileSystem.listDirectory(cacheDirectory)) ?? [] where name.hasPrefix("run-") {
            guard let pid = Int32(name.dropFirst(4)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else {
                continue
            }
            removeFlatDirectory("\(cacheDirectory)/\(name)")
        }
        serve(files: files, loader: PackageLoader(cacheDirectory: own, durableCache: false, logger: logger))
        removeFlatDirectory(own)
    }

    /// Removes a probe cache directory given to ``serve(files:cacheDirectory:logger:)``, with whatever probes that
    /// crashed left in it.
    public static func removeCache(_ directory: String) {
        for name in (try? FileSystem.listDirectory(directory, includingHidden: true)) ?? [] {
            let path = "\(directory)/\(name)"
            removeFlatDirectory(path)
            unlink(path)
        }
        rmdir(directory)
    }

    /// Removes a directory holding only files.
    private static func removeFlatDirectory(_ path: String) {
        for name in (try? FileSystem.listDirectory(path, includingHidden: true)) ?? [] { unlink("\(path)/\(name)") }
        rmdir(path)
    }

    public static func serve(files: [String], loader: PackageLoader) {
        for (position, file) in files.enumerated() {
            emit("file \(position)\n")
            let report = loader.load(file: file) { stage in
                emit("stage \(stage.name)\n")
            }
            emit("report " + report.json.serializedString() + "\n")
        }
    }

    private static func emit(_ line: String) {
        write(Array(line.utf8), to: 1)
    }

    private static func forward(_ bytes: [UInt8]) {
        write(bytes, to: 2)
    }

    private static func write(_ bytes: [UInt8], to fd: Int32) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }
}
