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
        // Files rejected before any of their code would run need no child process.
        let report: PackageReport
        switch PackageLoader.inspect(file: file) {
        case .rejected(let rejected): return rejected
        case .candidate(let candidate): report = candidate.report
        }
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
                // What the package logged while loading belongs to the caller's log, as if it had loaded here.
                Self.forward(outcome.errorOutput)
                return decoded
            }
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
        return report.rejected(PackageLoadError(stage, reason + Self.lastLine(of: outcome.errorOutput)))
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
