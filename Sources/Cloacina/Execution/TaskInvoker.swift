internal import Synchronization

/// Runs one attempt of one task of a loaded package: the single seam between the engine and package code.
///
/// Implementations block the calling thread until the task returns, so callers run them on threads of their own,
/// never on Swift's cooperative pool. The in-process implementation calls the package's C function directly; a
/// worker-process implementation can send the same request over a pipe instead.
public protocol TaskInvoker: Sendable {
    /// Runs `request` against `package`; `cancellation` lets another thread ask the task to stop.
    func invoke(_ request: TaskRequest, in package: LoadedPackage, cancellation: TaskCancellation) -> TaskResult
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

    public init(workflow: String, task: String, tenant: String, executionID: String, attempt: Int, context: [UInt8]) {
        self.workflow = workflow
        self.task = task
        self.tenant = tenant
        self.executionID = executionID
        self.attempt = attempt
        self.context = context
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

/// A flag another thread sets to ask a running task to stop; the task sees it through `host->is_cancelled`.
public final class TaskCancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks the task to stop. Idempotent.
    public func cancel() {
        flag.store(true, ordering: .relaxed)
    }

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
