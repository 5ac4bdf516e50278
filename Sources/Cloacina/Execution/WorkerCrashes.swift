internal import Synchronization

/// Counts the task worker processes of a ``ProcessTaskInvoker`` that died unasked, by package version and cause,
/// for metrics (`cloacina_worker_crashes_total{package,version,signal}`) and for whoever watches crashes.
///
/// A crash is a worker that ended while it ran a call or waited for one: killed by a signal (its own fault, a
/// resource limit, the kernel's OOM killer, a `kill` from outside), an exit, or a frame that broke the protocol.
/// Workers the invoker stops itself (idle, shut down, killed after a cancelled call outlived its grace period) are
/// not crashes.
public final class WorkerCrashes: Sendable {
    /// What a crash is counted by.
    public struct Key: Sendable, Hashable {
        public var package: String
        public var version: String
        /// The signal's name ("SIGSEGV", "SIGKILL", ...), "exit" for an exit, "protocol" for a broken frame.
        public var signal: String

        public init(package: String, version: String, signal: String) {
            self.package = package
            self.version = version
            self.signal = signal
        }
    }

    /// One crash, as observers hear it.
    public struct Crash: Sendable {
        public var key: Key
        public var sha256: String
        /// What happened, as the failed attempt records it ("worker killed by SIGSEGV (Segmentation fault)").
        public var cause: String
        /// The call it ran, if any.
        public var tenant: String?
        public var task: String?
    }

    private struct State {
        var counts: [Key: Int] = [:]
        var observers: [@Sendable (Crash) -> Void] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Calls `observer` (on the thread that saw the crash; keep it quick) for every crash from now on.
    public func observe(_ observer: @escaping @Sendable (Crash) -> Void) {
        state.withLock { $0.observers.append(observer) }
    }

    /// The crashes counted so far.
    public var counts: [Key: Int] { state.withLock { $0.counts } }

    /// The total of ``counts``.
    public var total: Int { counts.values.reduce(0, +) }

    func record(_ crash: Crash) {
        let observers = state.withLock { state in
            state.counts[crash.key, default: 0] += 1
            return state.observers
        }
        for observer in observers { observer(crash) }
    }
}
