internal import CloacinaJSON
internal import CloacinaModel

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

    /// Loads `file` in a child process and reports the outcome. Never crashes the caller; blocks its thread.
    public func load(file: String) -> PackageReport {
        var report = PackageReport(file: file)
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess.run(
                command + [file],
                environment: ["SWIFT_BACKTRACE": "enable=no"],
                timeout: timeout
            )
        } catch {
            return report.rejected(PackageLoadError(.isolation, "\(error)"))
        }
        var stage = PackageLoadError.Stage.read
        for line in outcome.output.split(separator: UInt8(ascii: "\n")) {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("stage "), let next = PackageLoadError.Stage(name: String(text.dropFirst(6))) {
                stage = next
            } else if text.hasPrefix("report "), outcome.termination == .exited(0),
                let json = try? JSONValue(parsing: Array(line.dropFirst(7))), let decoded = PackageReport(json: json)
            {
                return decoded
            }
        }
        if report.sha256 == nil, let bytes = try? FileSystem.readFile(file) {
            report.sha256 = SHA256.hex(bytes)
        }
        let reason: String
        switch outcome.termination {
        case .signalled(let signal):
            reason = "the package crashed the loading process with \(ChildProcess.signalName(signal))"
        case .timedOut:
            reason = "loading did not finish within \(timeout.inMilliseconds / 1000) s; the loading process was killed"
        case .exited(let status):
            reason = "the loading process exited with status \(status) without a report"
        }
        return report.rejected(PackageLoadError(stage, reason))
    }

    /// Loads every `*.so` file of `directory` in name order, each in its own process, then rejects conflicts.
    public func loadDirectory(_ directory: String) throws(PackageLoadError) -> [PackageReport] {
        try PackageCatalog.loadDirectory(directory) { load(file: $0) }
    }

    /// The child's side: loads `file` with `loader`, writing each stage and then the report to
    /// standard output as lines the parent reads.
    public static func serve(file: String, loader: PackageLoader) {
        let report = loader.load(file: file) { stage in
            emit("stage \(stage.name)\n")
        }
        emit("report " + report.json.serializedString() + "\n")
    }

    private static func emit(_ line: String) {
        var bytes = Array(line.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }
}
