internal import CCloacinaABI
public import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// Calls task functions directly in this process, on the calling thread.
///
/// Fast (a function call), but a task that crashes takes the process with it and one that never returns cannot be
/// stopped, only asked to stop. That is the trade the in-process mode makes for trusted packages.
public struct InProcessTaskInvoker: TaskInvoker {
    private let logger: Logger

    public init(logger: Logger = Logger(label: "cloacina.task")) {
        self.logger = logger
    }

    public func invoke(_ request: TaskRequest, in package: LoadedPackage, cancellation: TaskCancellation) -> TaskResult
    {
        guard let entry = package.entryPoint(workflow: request.workflow, task: request.task) else {
            return .failed(
                "package \(package.info.name) has no task \"\(request.task)\" in workflow \"\(request.workflow)\""
            )
        }
        let state = TaskCallState(logger: logger, request: request, cancellation: cancellation)

        var output = cloacina_output(data: nil, len: 0)
        let status: Int32 = request.tenant.withCString { tenant in
            request.workflow.withCString { workflow in
                request.task.withCString { task in
                    request.executionID.withCString { execution in
                        request.context.withUnsafeBufferPointer { context in
                            var call = cloacina_task_call()
                            call.struct_size = UInt32(MemoryLayout<cloacina_task_call>.size)
                            call.attempt = UInt32(clamping: request.attempt)
                            call.context_json = context.baseAddress
                            call.context_len = context.count
                            call.tenant = tenant
                            call.workflow = workflow
                            call.task_id = task
                            call.execution_id = execution
                            return LiveTaskCalls.run(&call, state: state) {
                                entry.function(entry.userData, $0, &output)
                            }
                        }
                    }
                }
            }
        }
        var bytes: [UInt8]?
        if let data = output.data {
            defer { free(data) }
            // An output that is the input byte for byte changed nothing: it is not copied, nor read again.
            let unchanged =
                status == CLOACINA_TASK_OK && output.len == request.context.count
                && request.context.withUnsafeBytes { $0.baseAddress.map { memcmp($0, data, output.len) == 0 } ?? false }
            if !unchanged { bytes = Array(UnsafeBufferPointer(start: data, count: output.len)) }
        }
        switch status {
        case CLOACINA_TASK_OK: return .succeeded(output: bytes)
        case CLOACINA_TASK_RETRYABLE: return .retryable(Self.message(bytes, status))
        case CLOACINA_TASK_BAD_INPUT: return .badInput(Self.message(bytes, status))
        case CLOACINA_TASK_FAILED: return .failed(Self.message(bytes, status))
        default: return .failed("unknown task status \(status): " + Self.message(bytes, status))
        }
    }

    private static func message(_ bytes: [UInt8]?, _ status: Int32) -> String {
        guard let bytes, !bytes.isEmpty else { return "the task failed without a message (status \(status))" }
        return String(decoding: bytes, as: UTF8.self)
    }
}
