import Cloacina

#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// Sequential executions of `bench_context` (a chain of five tasks that return their whole context: three add a
    /// key, two hand back a copy) with an input of about `contextBytes`: latency, and the process's peak resident
    /// size while the workload ran (``PeakMemory``).
    ///
    /// The input is `{"payload": [<1,000-character strings>...], "size": <bytes>}`. In process isolation the peak
    /// is this (host) process's only; the workers' memory is not counted.
    func context(n: Int) async throws -> JSONValue {
        let input = Self.contextInput(bytes: contextBytes)
        let peak = PeakMemory()
        var result = try await latency(.context, "bench_context", tasks: 5, n: n, input: input)
        result["context_bytes"] = .int(input.count)
        result["peak_rss_mb"] = peak.megabytes.map { .double(($0 * 10).rounded() / 10) } ?? .null
        result["baseline_rss_mb"] = .double(((peak.baseline ?? 0) * 10).rounded() / 10)
        result["peak_rss_source"] = .string(peak.source)
        return result
    }

    /// A JSON object of about `bytes` bytes: an array of 1,000-character strings and the size asked for.
    static func contextInput(bytes: Int) -> [UInt8] {
        let chunk = 1000
        var text: [UInt8] = []
        text.reserveCapacity(bytes + chunk + 64)
        text.append(contentsOf: #"{"payload":["#.utf8)
        var index = 0
        repeat {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text.append(UInt8(ascii: "\""))
            for offset in 0..<chunk { text.append(UInt8(ascii: "a") + UInt8((index + offset) % 26)) }
            text.append(UInt8(ascii: "\""))
            index += 1
        } while text.count + chunk < bytes
        text.append(contentsOf: #"],"size":\#(bytes)}"#.utf8)
        return text
    }
}

/// The process's peak resident size from the moment it is made: resets the kernel's high-water mark (writing 5 to
/// /proc/self/clear_refs) and reads `VmHWM` from /proc/self/status. Where the reset is not allowed, it reads
/// `getrusage`'s `ru_maxrss` instead, which is the peak of the whole process's life.
struct PeakMemory {
    /// Where the peak comes from: `VmHWM` after a reset, or `ru_maxrss`.
    let source: String
    /// The resident size when the measurement began.
    let baseline: Double?

    init() {
        let reset = Self.resetHighWaterMark()
        source = reset ? "VmHWM" : "ru_maxrss"
        baseline = Bench.residentMegabytes()
    }

    /// The peak since ``init()``, in MiB.
    var megabytes: Double? {
        if source == "VmHWM", let peak = Self.status("VmHWM") { return peak / 1024 }
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return nil }
        return Double(usage.ru_maxrss) / 1024
    }

    private static func resetHighWaterMark() -> Bool {
        let descriptor = open("/proc/self/clear_refs", O_WRONLY)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return write(descriptor, "5", 1) == 1
    }

    /// A `kB` field of /proc/self/status.
    private static func status(_ field: String) -> Double? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 256)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(cString: buffer)
            guard line.hasPrefix(field + ":") else { continue }
            let digits = line.dropFirst(field.count + 1).filter(\.isNumber)
            return Double(digits)
        }
        return nil
    }
}
