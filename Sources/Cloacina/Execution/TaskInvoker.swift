internal import Synchronization

/// Runs one attempt of one task of a loaded package: the single seam between the engine and package code.
///
/// Implementations block the calling thread until the task returns, so callers run them on threads of their own,
/// never on Swift's cooperative pool. The in-process implementation calls the package's C function directly; a
/// worker-process implementation can send the same request over a pipe instead.
public protocol TaskInvoker: Sendable {
    /// Runs `request` against `package`; `cancellation` lets another thread ask the task to stop.
    func invoke(_ request: TaskRequest, in package: LoadedPackage, cancellation: TaskCancellation) -> TaskResult

    /// For an invoker that runs package code in other processes only: the loading probe (keeping its throw-away
    /// copies under `cacheDirectory`) whose reports register package files with the host without opening them
    /// here (``PackagePipeline/init(probe:loader:for:)``). nil, the default: package files are opened in this
    /// process, where their tasks run.
    func loadingProbe(cacheDirectory: String) -> PackageProbe?

    /// Whether the tasks of the package named `name` run in this process, so its file must be opened here. True,
    /// the default, for an invoker without ``loadingProbe(cacheDirectory:)``; an invoker with one says which
    /// packages it still runs here (the operator's trusted ones).
    func runsInThisProcess(package name: String) -> Bool
}

extension TaskInvoker {
    public func loadingProbe(cacheDirectory: String) -> PackageProbe? { nil }

    public func runsInThisProcess(package name: String) -> Bool { true }
}

/// Everything a task is given for one attempt.
public struct TaskRequest: Sendable {
    public var workflow: String
    public var task: String
    public var tenant: String
    public var executionID: String
    /// 1 for the first attempt.
    public var attempt: Int
    /// The input context as JSON object bytes.
    public var context: [UInt8]
    /// The largest output the runner accepts (its `maximumOutputBytes`); an invoker that carries the output across a
    /// process boundary refuses a larger one before reading it.
    public var maximumOutputBytes: Int
    /// Where the attempt's log lines are kept for the store, besides the logger; nil keeps none (an invoker used
    /// on its own, a worker process: its host keeps them).
    var logRecorder: TaskLogRecorder?

    public init(
        workflow: String,
        task: String,
        tenant: String,
        executionID: String,
        attempt: Int,
        context: [UInt8],
        maximumOutputBytes: Int = 64 << 20
    ) {
        self.workflow = workflow
        self.task = task
        self.tenant = tenant
        self.executionID = executionID
        self.attempt = attempt
        self.context = context
        self.maximumOutputBytes = maximumOutputBytes
    }
}

/// How an attempt ended, as the package reported it.
public enum TaskResult: Sendable, Hashable {
    /// The task completed; `output` is its full context as JSON, or nil when it left its input unchanged.
    case succeeded(output: [UInt8]?)
    /// The task failed.
    case failed(String)
    /// The task failed in a way worth retrying.
    case retryable(String)
    /// The task cannot process its input; never retried.
    case badInput(String)
}

/// A flag another thread sets to ask a running task to stop; the task sees it through `host->is_cancelled`, and an
/// invoker that must act on it (stop a worker process, say) hears it through ``onCancel(_:)``.
public final class TaskCancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    private let handlers = Mutex<(next: UInt64, registered: [UInt64: @Sendable () -> Void])>((0, [:]))

    public init() {}

    /// Asks the task to stop, and calls the handlers registered with ``onCancel(_:)``. Idempotent.
    public func cancel() {
        flag.store(true, ordering: .releasing)
        let called = handlers.withLock { handlers in
            defer { handlers.registered.removeAll() }
            return Array(handlers.registered.values)
        }
        for handler in called { handler() }
    }

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Calls `handler` once when ``cancel()`` is called, on the cancelling thread; at once, on this thread, when it
    /// was called already (then the result is nil). Returns a token for ``removeHandler(_:)``.
    @discardableResult
    public func onCancel(_ handler: @escaping @Sendable () -> Void) -> UInt64? {
        let token: UInt64? = handlers.withLock { handlers in
            guard !flag.load(ordering: .acquiring) else { return nil }
            handlers.next += 1
            handlers.registered[handlers.next] = handler
            return handlers.next
        }
        if token == nil { handler() }
        return token
    }

    /// Forgets a handler registered with ``onCancel(_:)`` (it may still be running on the cancelling thread).
    public func removeHandler(_ token: UInt64?) {
        guard let token else { return }
        _ = handlers.withLock { $0.registered.removeValue(forKey: token) }
    }
}
