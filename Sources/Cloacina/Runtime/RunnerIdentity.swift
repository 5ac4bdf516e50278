#if canImport(Glibc)
internal import Glibc
#endif

/// Who a runner is, as written into the executions it owns: `host/pid/start-time/nonce`.
///
/// A runner on the same host can tell whether the owner of an execution is still alive (the process exists and
/// started at the recorded time, so a recycled pid does not fool it) and take over a dead runner's executions at
/// once instead of waiting for its lease to run out. Owners on other hosts are assumed alive until their lease
/// expires.
struct RunnerIdentity: Sendable {
    let host: String
    let value: String
    /// The process: `host/pid/start-time`, shared by every runner of the process (a ``HostRecord``'s id).
    let process: String

    init() {
        host = Self.hostName()
        let pid = getpid()
        let nonce = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        process = "\(host)/\(pid)/\(Self.startTime(of: pid) ?? 0)"
        value = "\(process)/\(nonce)"
    }

    /// Whether the runner named `owner` may still be running. Unparseable names and other hosts count as alive.
    func isAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Substring(host), let pid = Int32(parts[1]), let start = UInt64(parts[2])
        else { return true }
        guard let current = Self.startTime(of: pid) else { return false }
        return current == start
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return name.isEmpty ? "localhost" : String(name.map { $0 == "/" ? "_" : $0 })
    }

    /// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
    private static func startTime(of pid: Int32) -> UInt64? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // The command name (field 2) is in parentheses and may contain spaces; count fields after its end.
        guard let close = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
