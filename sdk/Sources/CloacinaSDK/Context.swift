internal import CCloacinaABI

/// The context a task reads and changes: a JSON object, plus what the host says about this call.
///
/// The task's input is the execution's input with its dependencies' changes applied; whatever the body leaves in
/// the context when it returns is the task's output, of which the host keeps what changed (keys set, changed or
/// removed). A context lives only for one call and cannot be copied out of it, because it borrows the host's call
/// data.
public struct Context: ~Copyable {
    /// The top-level members of the context.
    public var values: [String: JSONValue] {
        didSet { changed = true }
    }

    /// Whether the body changed anything; an unchanged context is passed on without being re-encoded.
    var changed = false
    private let call: UnsafePointer<cloacina_task_call>
    private let host: UnsafePointer<cloacina_host_api>

    init(values: [String: JSONValue], call: UnsafePointer<cloacina_task_call>, host: UnsafePointer<cloacina_host_api>) {
        self.values = values
        self.call = call
        self.host = host
    }

    /// The member named `key`, or nil. Setting nil removes the member from this task's output.
    public subscript(key: String) -> JSONValue? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// The member named `key`; throws ``TaskFailure/badInput(_:)`` when it is missing.
    public func require(_ key: String) throws(TaskFailure) -> JSONValue {
        guard let value = values[key] else { throw .badInput("the context has no \"\(key)\"") }
        return value
    }

    /// The string named `key`; throws ``TaskFailure/badInput(_:)`` when it is missing or not a string.
    public func string(_ key: String) throws(TaskFailure) -> String {
        try typed(key, "a string") { $0.stringValue }
    }

    /// The integer named `key`; throws ``TaskFailure/badInput(_:)`` when it is missing or not an integer.
    public func int(_ key: String) throws(TaskFailure) -> Int {
        try typed(key, "an integer") { $0.intValue }
    }

    /// The number named `key`; throws ``TaskFailure/badInput(_:)`` when it is missing or not a number.
    public func double(_ key: String) throws(TaskFailure) -> Double {
        try typed(key, "a number") { $0.doubleValue }
    }

    /// The boolean named `key`; throws ``TaskFailure/badInput(_:)`` when it is missing or not a boolean.
    public func bool(_ key: String) throws(TaskFailure) -> Bool {
        try typed(key, "a boolean") { $0.boolValue }
    }

    /// The array named `key`; throws ``TaskFailure/badInput(_:)`` when it is missing or not an array.
    public func array(_ key: String) throws(TaskFailure) -> [JSONValue] {
        try typed(key, "an array") { $0.arrayValue }
    }

    private func typed<T>(_ key: String, _ what: String, _ extract: (JSONValue) -> T?) throws(TaskFailure) -> T {
        let value = try require(key)
        guard let typed = extract(value) else {
            throw .badInput("\"\(key)\" must be \(what), got \(value.kindName)")
        }
        return typed
    }

    /// The tenant the execution belongs to.
    public var tenant: String { String(cString: call.pointee.tenant) }
    /// The workflow being executed.
    public var workflow: String { String(cString: call.pointee.workflow) }
    /// This task's id.
    public var taskID: String { String(cString: call.pointee.task_id) }
    /// The execution's id.
    public var executionID: String { String(cString: call.pointee.execution_id) }
    /// 1 for the first attempt, 2 for the first retry, and so on.
    public var attempt: Int { Int(call.pointee.attempt) }

    /// Whether the host wants this call to stop (timeout, cancellation, shutdown). Long tasks should check it and
    /// throw soon after; the result of a cancelled call is discarded.
    public var isCancelled: Bool { (host.pointee.is_cancelled?(call) ?? 0) != 0 }

    /// Asks the host whether this call should stop, without the context: what watches an `async` body while the
    /// body holds the context.
    var cancellationProbe: CancellationProbe { CancellationProbe(call: call, host: host) }

    /// Writes a message to the host's log, tagged with the execution and task.
    public func log(_ message: String, level: LogLevel = .info) {
        message.withCString { host.pointee.log?(call, level.rawValue, $0) }
    }
}

/// Asks the host whether one call should stop; valid for that call only.
struct CancellationProbe {
    let call: UnsafePointer<cloacina_task_call>
    let host: UnsafePointer<cloacina_host_api>

    var isCancelled: Bool { (host.pointee.is_cancelled?(call) ?? 0) != 0 }
}

/// Severity of a message passed to ``Context/log(_:level:)``.
public enum LogLevel: Int32, Sendable, CaseIterable {
    case trace = 0
    case debug = 1
    case info = 2
    case warning = 3
    case error = 4
}
