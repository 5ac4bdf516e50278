internal import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

/// The resource limits of a task worker process (``ProcessTaskInvoker``), set with `setrlimit` by the worker
/// itself before it opens the package, so no package code runs without them.
///
/// A limit that is reached ends the worker the way the kernel ends it (an allocation that fails, `SIGXCPU`, an open
/// that fails), and the attempt it was running fails with that cause; the next call gets a fresh worker. The
/// address-space and open-file limits are set as hard limits, which a package cannot raise unless the host runs with
/// `CAP_SYS_RESOURCE` (as root, say); the CPU limit is a soft limit renewed before each call.
public struct WorkerLimits: Sendable, Hashable {
    /// The largest address space (`RLIMIT_AS`) in bytes: mappings and allocations beyond it fail. nil for none.
    public var addressSpaceBytes: Int?
    /// CPU seconds one call may use (`RLIMIT_CPU`, renewed before each call): past them the worker gets `SIGXCPU`.
    /// nil for none (the task's timeout and the kill after it still bound a call).
    public var cpuSecondsPerCall: Int?
    /// Open file descriptors (`RLIMIT_NOFILE`). nil keeps the host's.
    public var openFiles: Int?

    public init(addressSpaceBytes: Int? = nil, cpuSecondsPerCall: Int? = nil, openFiles: Int? = nil) {
        self.addressSpaceBytes = addressSpaceBytes
        self.cpuSecondsPerCall = cpuSecondsPerCall
        self.openFiles = openFiles
    }

    /// 4 GiB of address space, no CPU limit beyond the timeout, 1024 open files.
    public static let standard = WorkerLimits(addressSpaceBytes: 4 << 30, cpuSecondsPerCall: nil, openFiles: 1024)

    /// Applies the address-space and open-file limits to this process; throws a message naming the one that failed.
    func apply() throws(WorkerProtocolError) {
        if let bytes = addressSpaceBytes {
            try Self.set(Int32(RLIMIT_AS.rawValue), rlim_t(bytes), hard: rlim_t(bytes), "the address-space limit")
        }
        if let files = openFiles {
            try Self.set(Int32(RLIMIT_NOFILE.rawValue), rlim_t(files), hard: rlim_t(files), "the open-file limit")
        }
        if cpuSecondsPerCall != nil {
            // The hard limit stays: a soft limit is set before every call.
            try Self.set(Int32(RLIMIT_CPU.rawValue), rlim_t.max, hard: nil, "the CPU limit")
        }
    }

    /// Gives the next call `cpuSecondsPerCall` seconds of CPU on top of what the process used so far.
    func renewCPU() {
        guard let seconds = cpuSecondsPerCall else { return }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let used = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1
        try? Self.set(Int32(RLIMIT_CPU.rawValue), rlim_t(used) + rlim_t(seconds), hard: nil, "the CPU limit")
    }

    private static func set(
        _ resource: Int32,
        _ soft: rlim_t,
        hard: rlim_t?,
        _ what: String
    ) throws(WorkerProtocolError) {
        var limit = rlimit()
        getrlimit(resource, &limit)
        limit.rlim_cur = soft
        if let hard { limit.rlim_max = hard }
        if limit.rlim_cur > limit.rlim_max { limit.rlim_cur = limit.rlim_max }
        guard setrlimit(resource, &limit) == 0 else {
            throw WorkerProtocolError("cannot set \(what) to \(soft): \(FileSystem.errorText())")
        }
    }
}
