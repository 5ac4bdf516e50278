internal import CCloacinaABI
internal import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// The `cloacina_host_api` table every package receives, and the C callbacks behind it.
///
/// There is one table for the process; it is never freed, as the ABI promises. Callbacks find their context
/// through the pointer they are given, which they look up and never trust: a registrar pointer must be one the host
/// handed out (``registrars``), and a call pointer the address of a task call running now (``LiveTaskCalls``), so a
/// package that passes garbage, `NULL`, a copy or a pointer kept from an earlier call is refused and logged instead
/// of making the host dereference it.
enum HostAPI {
    /// The table passed to every `cloacina_package_init`.
    nonisolated(unsafe) static let table: UnsafePointer<cloacina_host_api> = {
        let table = UnsafeMutablePointer<cloacina_host_api>.allocate(capacity: 1)
        var api = cloacina_host_api()
        api.struct_size = UInt32(MemoryLayout<cloacina_host_api>.size)
        api.abi_major = UInt16(CLOACINA_ABI_MAJOR)
        api.abi_minor = UInt16(CLOACINA_ABI_MINOR)
        api.register_workflow = { registrar, def in
            guard let registrar = HostAPI.registrar(registrar, "register_workflow") else {
                return CLOACINA_REGISTER_REJECTED
            }
            return registrar.registerWorkflow(def)
        }
        api.register_task = { registrar, def in
            guard let registrar = HostAPI.registrar(registrar, "register_task") else {
                return CLOACINA_REGISTER_REJECTED
            }
            return registrar.registerTask(def)
        }
        api.register_schedule = { registrar, def in
            guard let registrar = HostAPI.registrar(registrar, "register_schedule") else {
                return CLOACINA_REGISTER_REJECTED
            }
            return registrar.registerSchedule(def)
        }
        api.register_native_task = { registrar, def in
            guard let registrar = HostAPI.registrar(registrar, "register_native_task") else {
                return CLOACINA_REGISTER_REJECTED
            }
            return registrar.registerNativeTask(def)
        }
        api.report_error = { registrar, message in
            HostAPI.registrar(registrar, "report_error")?.reportError(message)
        }
        api.log = { call, level, message in
            let text = message.map { PackageRegistrar.text($0) } ?? ""
            let logLevel: Logger.Level
            switch level {
            case CLOACINA_LOG_TRACE: logLevel = .trace
            case CLOACINA_LOG_DEBUG: logLevel = .debug
            case CLOACINA_LOG_INFO: logLevel = .info
            case CLOACINA_LOG_WARNING: logLevel = .warning
            default: logLevel = .error
            }
            guard let call else {
                (PackageLoader.initLogger ?? HostAPI.logger).log(level: logLevel, "\(text)")
                return
            }
            guard let state = LiveTaskCalls.state(of: call) else {
                LiveTaskCalls.refused(call, in: "log", message: text)
                return
            }
            state.log(level: logLevel, text)
        }
        api.alloc = { size in malloc(max(size, 1)) }
        api.free = { pointer in free(pointer) }
        api.is_cancelled = { call in
            // A pointer that is no running call cannot be answered; "stop" is the safe answer to a confused task.
            guard let state = LiveTaskCalls.state(of: call) else {
                LiveTaskCalls.refused(call, in: "is_cancelled", message: nil)
                return 1
            }
            return state.cancellation.isCancelled ? 1 : 0
        }
        table.initialize(to: api)
        return UnsafePointer(table)
    }()

    /// Where package messages go when no task or package is known.
    static let logger = Logger(label: "cloacina.package")

    /// The registrars handed to packages' inits, by address. They live for ever (a package may keep the pointer),
    /// so an address here is always a registrar.
    private static let registrars = Mutex<Set<UInt>>([])

    /// A handle for `registrar` to give a package's init; the registrar is kept alive for ever.
    static func handle(for registrar: PackageRegistrar) -> OpaquePointer {
        let pointer = Unmanaged.passRetained(registrar).toOpaque()
        registrars.withLock { _ = $0.insert(UInt(bitPattern: pointer)) }
        return OpaquePointer(pointer)
    }

    /// The registrar behind `pointer`, or nil (refused and logged) when the host never handed it out.
    static func registrar(_ pointer: OpaquePointer?, _ function: String) -> PackageRegistrar? {
        let address = UInt(bitPattern: pointer.map { UnsafeRawPointer($0) })
        guard registrars.withLock({ $0.contains(address) }), let pointer else {
            (PackageLoader.initLogger ?? logger).error(
                "refused host->\(function) with a registrar pointer the host did not hand out",
                metadata: ["pointer": "0x\(String(address, radix: 16))"]
            )
            return nil
        }
        return Unmanaged<PackageRegistrar>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

/// The task calls running in this process, by the address of their `cloacina_task_call`.
///
/// A package gets a pointer to its call and passes it back to `host->log` and `host->is_cancelled`. The host never
/// dereferences a pointer it has not found here: the address is looked up first, and only then is the call's
/// `host_reserved` compared with the token registered for it (a number, not a pointer). So garbage, `NULL`, a copy
/// of the struct, or a pointer kept after its call returned (unless another call now runs at that very address) is
/// refused. Refusals are logged to the log of the call running on the refusing thread, if any, counted, and
/// throttled (the 1st, 2nd, 4th, 8th, ... in the process).
enum LiveTaskCalls {
    private static let calls = Mutex<[UInt: (token: UInt, state: TaskCallState)]>([:])
    private static let nextToken = Atomic<UInt>(1)
    private static let refusals = Atomic<Int>(0)

    /// The call running on this thread, for attributing refusals.
    @TaskLocal private static var current: TaskCallState?

    /// Runs `body` with `call` registered as live (its `host_reserved` set to a fresh token) for `state`.
    static func run<Result>(
        _ call: inout cloacina_task_call,
        state: TaskCallState,
        _ body: (UnsafeMutablePointer<cloacina_task_call>) -> Result
    ) -> Result {
        let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
        call.host_reserved = UnsafeMutableRawPointer(bitPattern: token)
        return withUnsafeMutablePointer(to: &call) { pointer in
            let address = UInt(bitPattern: pointer)
            calls.withLock { $0[address] = (token, state) }
            defer { _ = calls.withLock { $0.removeValue(forKey: address) } }
            return $current.withValue(state) { body(pointer) }
        }
    }

    /// The state of the live call at `call`, or nil when no call runs there (or its token does not match).
    static func state(of call: UnsafePointer<cloacina_task_call>?) -> TaskCallState? {
        let address = UInt(bitPattern: call)
        return calls.withLock { calls in
            // The address is a call running now, so reading it is safe while the lock keeps the call from ending.
            guard let entry = calls[address], let call,
                UInt(bitPattern: call.pointee.host_reserved) == entry.token
            else { return nil }
            return entry.state
        }
    }

    /// Logs a refused call pointer (throttled).
    static func refused(_ call: UnsafePointer<cloacina_task_call>?, in function: String, message: String?) {
        let count = refusals.wrappingAdd(1, ordering: .relaxed).newValue
        guard count & (count - 1) == 0 else { return }
        var metadata: Logger.Metadata = [
            "pointer": "0x\(String(UInt(bitPattern: call), radix: 16))", "refusals": "\(count)",
        ]
        if let message { metadata["message"] = "\(message)" }
        let text = "refused host->\(function): the call pointer is not a task call running now"
        if let current {
            current.log(level: .error, text, metadata: metadata)
        } else {
            HostAPI.logger.error("\(text)", metadata: metadata)
        }
    }
}

/// Host-side state of one task call, found from the call's address (``LiveTaskCalls``).
final class TaskCallState: Sendable {
    /// The invoker's logger; the call's own metadata (``TaskRequest/logMetadata``) is added to each line, so an
    /// attempt that logs nothing pays nothing for it.
    private let base: Logger
    private let request: TaskRequest
    let cancellation: TaskCancellation

    init(logger: Logger, request: TaskRequest, cancellation: TaskCancellation) {
        self.base = logger
        self.request = request
        self.cancellation = cancellation
    }

    /// The call's logger with its metadata set (for the rare lines logged outside ``log(level:_:metadata:)``).
    var logger: Logger { request.logger(from: base) }

    /// Logs a line of the call, with its tenant, workflow, task, execution and attempt, and keeps it for the
    /// store (whatever the logger's level).
    func log(level: Logger.Level, _ text: String, metadata: Logger.Metadata = [:]) {
        request.logRecorder?.record(level, text)
        base.log(
            level: level,
            "\(text)",
            metadata: metadata.isEmpty ? request.logMetadata : request.logMetadata.merging(metadata) { $1 }
        )
    }
}
