internal import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// The standard output or standard error of a task worker, read by the host (never a protocol stream) and logged
/// line by line with the tenant and task of the call running when it was written.
///
/// What package code writes is untrusted: a line is cut at ``longestLine`` bytes and a call logs at most
/// ``budget`` bytes (the rest is read and counted, so the worker never blocks on a full pipe).
struct WorkerOutput {
    /// "stdout" or "stderr".
    let stream: String
    /// The read end (non-blocking); -1 once the stream ended.
    private(set) var fd: Int32
    private var pending: [UInt8] = []
    private var logged = 0
    private var dropped = 0
    /// The last non-empty line, for a crash report.
    private(set) var lastLine: String?

    static let longestLine = 4096
    static let budget = 64 * 1024

    init(stream: String, fd: Int32) {
        self.stream = stream
        self.fd = fd
    }

    /// Reads what is there (without blocking) and logs its complete lines.
    mutating func drain(to logger: Logger) {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while fd >= 0 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return }
            guard count > 0 else {
                close()
                flush(to: logger)
                return
            }
            pending += chunk[0..<count]
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                emit(pending[start..<min(newline, start + Self.longestLine)], to: logger)
                start = newline + 1
            }
            while pending.count - start >= Self.longestLine {
                emit(pending[start..<(start + Self.longestLine)], to: logger)
                start += Self.longestLine
            }
            pending.removeFirst(start)
        }
    }

    /// Logs a partial last line and what was not logged, and starts a new budget (at the end of a call).
    mutating func flush(to logger: Logger) {
        if !pending.isEmpty {
            emit(pending[...], to: logger)
            pending.removeAll()
        }
        if dropped > 0 {
            logger.warning(
                "worker output not logged: \(dropped) more bytes (at most \(Self.budget) are logged per call)",
                metadata: ["stream": "\(stream)"]
            )
        }
        logged = 0
        dropped = 0
        lastLine = nil
    }

    /// Stops reading.
    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private mutating func emit(_ bytes: ArraySlice<UInt8>, to logger: Logger) {
        let line = String(decoding: bytes, as: UTF8.self)
        if line.contains(where: { !$0.isWhitespace }) { lastLine = line }
        guard logged + bytes.count <= Self.budget else {
            dropped += bytes.count + 1
            return
        }
        logged += bytes.count + 1
        logger.log(level: stream == "stderr" ? .warning : .info, "\(line)", metadata: ["stream": "\(stream)"])
    }
}
