internal import CCloacinaABI
internal import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// The `cloacina_host_api` table every package receives, and the C callbacks behind it.
///
/// There is one table for the process; it is never freed, as the ABI promises. Callbacks find their context
/// through the pointer they are given: the registrar during init, the call's `host_reserved` during a task.
enum HostAPI {
    /// The table passed to every `cloacina_package_init`.
    nonisolated(unsafe) static let table: UnsafePointer<cloacina_host_api> = {
        let table = UnsafeMutablePointer<cloacina_host_api>.allocate(capacity: 1)
        var api = cloacina_host_api()
        api.struct_size = UInt32(MemoryLayout<cloacina_host_api>.size)
        api.abi_major = UInt16(CLOACINA_ABI_MAJOR)
        api.abi_minor = UInt16(CLOACINA_ABI_MINOR)
        api.register_workflow = { registrar, def in
            guard let registrar else { return CLOACINA_REGISTER_REJECTED }
            return HostAPI.registrar(registrar).registerWorkflow(def)
        }
        api.register_task = { registrar, def in
            guard let registrar else { return CLOACINA_REGISTER_REJECTED }
            return HostAPI.registrar(registrar).registerTask(def)
        }
        api.report_error = { registrar, message in
            guard let registrar else { return }
            HostAPI.registrar(registrar).reportError(message)
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
            if let call, let state = call.pointee.host_reserved {
                TaskCallState.from(state).logger.log(level: logLevel, "\(text)")
            } else {
                (PackageLoader.initLogger ?? HostAPI.logger).log(level: logLevel, "\(text)")
            }
        }
        api.alloc = { size in malloc(max(size, 1)) }
        api.free = { pointer in free(pointer) }
        api.is_cancelled = { call in
            guard let call, let state = call.pointee.host_reserved else { return 0 }
            return TaskCallState.from(state).cancellation.isCancelled ? 1 : 0
        }
        table.initialize(to: api)
        return UnsafePointer(table)
    }()

    /// Where package messages go when no task or package is known.
    static let logger = Logger(label: "cloacina.package")

    static func registrar(_ pointer: OpaquePointer) -> PackageRegistrar {
        Unmanaged<PackageRegistrar>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

/// Host-side state of one task call, reachable from the call's `host_reserved` pointer.
final class TaskCallState: Sendable {
    let logger: Logger
    let cancellation: TaskCancellation

    init(logger: Logger, cancellation: TaskCancellation) {
        self.logger = logger
        self.cancellation = cancellation
    }

    static func from(_ pointer: UnsafeMutableRawPointer) -> TaskCallState {
        Unmanaged<TaskCallState>.fromOpaque(pointer).takeUnretainedValue()
    }
}
