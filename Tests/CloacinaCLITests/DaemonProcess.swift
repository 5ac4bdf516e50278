import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Synchronization

/// A `cloacina serve` child process for end-to-end tests: started on a free loopback port, its standard error
/// collected line by line so tests can wait for what it logs, and spoken to over HTTP with curl.
final class DaemonProcess: Sendable {
    let port: Int
    /// The address its HTTP API listens on (loopback, or its network namespace's own).
    let address: String
    let pidFile: String
    private let process: Process
    private let log = Mutex<[String]>([])
    private let lines = DispatchSemaphore(value: 0)

    /// Starts `cloacina serve` on `drop` with its data in `data`, and waits until it serves HTTP; in `namespace`
    /// (``NetworkNamespace``) when given, listening on its address.
    init(
        drop: String,
        data: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        namespace: NetworkNamespace? = nil
    ) throws {
        port = try Self.freePort()
        address = namespace?.address ?? "127.0.0.1"
        pidFile = "\(data)/cloacina.pid"
        process = Process()
        // `ip netns exec` enters the namespace and execs the command: the child is the host itself.
        process.executableURL = URL(
            fileURLWithPath: namespace == nil ? TestEnvironment.cloacinaExecutable : "/usr/sbin/ip"
        )
        process.arguments =
            (namespace.map { ["netns", "exec", $0.name, TestEnvironment.cloacinaExecutable] } ?? [])
            + [
                "serve", "--workflows", drop, "--data-dir", data, "--http", "\(address):\(port)", "--drain-timeout",
                "30",
                // Tests hold several tasks at once; each holds a slot.
                "--max-concurrent-tasks", "32",
            ]
            + arguments
            // Tests serve tenants such as acme without creating them first (not with --all-tenants, nor with
            // tenants' own credentials, whose roles may not create schemas).
            + (arguments.contains("--tenants") && !arguments.contains("--tenant-credentials")
                ? ["--create-tenant"] : [])
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["CLOACINA_LOG_LEVEL": "info"].merging(environment) { _, new in new }
        ) { _, new in new }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = errors.fileHandleForReading
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    log.withLock { $0.append(line) }
                    lines.signal()
                }
            }
            log.withLock { $0.append("<exited>") }
            lines.signal()
        }
        guard waitForLog("Server started and listening"), waitForLog("serving") else {
            process.terminate()
            throw DaemonError(message: "the daemon did not start:\n\(logText)")
        }
    }

    struct DaemonError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Everything the daemon logged so far.
    var logText: String { log.withLock { $0.joined(separator: "\n") } }

    /// Waits until a logged line contains `text` (counting lines already logged); false if the daemon exited or
    /// `seconds` passed first (only when something is broken).
    func waitForLog(_ text: String, seconds: Double = 60) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            let (found, exited) = log.withLock { log in
                (log.contains { $0.contains(text) }, log.last == "<exited>")
            }
            if found { return true }
            if exited || lines.wait(timeout: deadline) == .timedOut { return false }
        }
    }

    /// How many logged lines contain `text`.
    func count(_ text: String) -> Int { log.withLock { $0.filter { $0.contains(text) }.count } }

    /// Waits until at least `times` logged lines contain `text`; false if the daemon exited first.
    func waitForLog(_ text: String, times: Int, seconds: Double = 60) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            let (found, exited) = log.withLock { log in
                (log.filter { $0.contains(text) }.count >= times, log.last == "<exited>")
            }
            if found { return true }
            if exited || lines.wait(timeout: deadline) == .timedOut { return false }
        }
    }

    /// Sends an HTTP request and returns the status and the body parsed as JSON (`.null` if it is not JSON).
    func request(_ method: String, _ path: String, body: String? = nil) throws -> (status: Int, json: JSONValue) {
        let (status, text) = try requestText(method, path, body: body)
        return (status, (try? JSONValue(parsing: Array(text.utf8))) ?? .null)
    }

    /// Sends an HTTP request and returns the status and the body as text.
    func requestText(_ method: String, _ path: String, body: String? = nil) throws -> (status: Int, body: String) {
        var arguments = ["-sS", "-m", "60", "-o", "-", "-w", "\n%{http_code}", "-X", method]
        if let body { arguments += ["-H", "content-type: application/json", "--data-binary", body] }
        arguments.append("http://\(address):\(port)\(path)")
        let result = try runCommand("/usr/bin/env", ["curl"] + arguments)
        guard result.exitStatus == 0, let newline = result.standardOutput.lastIndex(of: "\n"),
            let status = Int(result.standardOutput[result.standardOutput.index(after: newline)...])
        else {
            throw DaemonError(message: "curl \(method) \(path) failed: \(result.standardError)")
        }
        return (status, String(result.standardOutput[..<newline]))
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    var pid: Int32 { process.processIdentifier }

    /// Waits for the process to exit; its exit status, or nil if a signal ended it.
    func waitForExit() -> Int32? {
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A loopback TCP port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DaemonError(message: "socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw DaemonError(message: "bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
