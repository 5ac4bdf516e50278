internal import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

/// Who a runner is, as written into the executions it owns: `host/pid/start-time/nonce`, where `host` is the host
/// name and a digest of the boot and the pid namespace (`vm~1a2b3c4d`).
///
/// A runner that sees the same `host` can tell whether the owner of an execution is still alive (the process exists
/// and started at the recorded time, so a recycled pid does not fool it) and take over a dead runner's executions at
/// once instead of waiting for its lease to run out. Owners elsewhere are assumed alive until their lease expires:
/// the digest keeps two machines, or two containers, that share a host name from reading each other's pids.
struct RunnerIdentity: Sendable {
    let host: String
    let value: String
    /// The process: `host/pid/start-time`, shared by every runner of the process (a ``HostRecord``'s id).
    let process: String

    init() {
        host = Self.hostName() + "~" + Self.pidSpace()
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

    /// 8 hex digits of the SHA-256 of the boot id and the pid namespace: the same exactly where pids mean the same
    /// processes.
    private static func pidSpace() -> String {
        var identity = Self.firstLine(of: "/proc/sys/kernel/random/boot_id") ?? ""
        var buffer = [CChar](repeating: 0, count: 128)
        let length = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        if length > 0 { identity += String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return String(SHA256.hex(Array(identity.utf8)).prefix(8))
    }

    private static func firstLine(of path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return line.hasSuffix("\n") ? String(line.dropLast()) : line
    }

    /// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
    private static func startTime(of pid: Int32) -> UInt64? {
        guard let line = firstLine(of: "/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) is in parentheses and may contain spaces; count fields after its end.
        guard let close = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
