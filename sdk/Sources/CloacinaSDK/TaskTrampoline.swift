internal import CCloacinaABI

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The C function registered for every Swift task: decodes the context, runs the body, encodes the result.
///
/// Nothing Swift-typed leaves it: thrown errors become a status code and a UTF-8 message, the output context
/// becomes JSON bytes in memory from the host's allocator. Traps in the body (`fatalError`, overflow) cannot be
/// caught here; they end the process that hosts the task.
let taskTrampoline: cloacina_task_fn = { userData, call, output in
    guard let userData, let call, let output else { return CLOACINA_TASK_FAILED }
    let box = Unmanaged<TaskBox>.fromOpaque(userData).takeUnretainedValue()
    let host = box.host

    let input = UnsafeBufferPointer(start: call.pointee.context_json, count: call.pointee.context_len)
    let values: [String: JSONValue]
    do {
        guard case .object(let members) = try JSONValue(parsing: input) else {
            writeOutput(Array("the context is not a JSON object".utf8), host: host, to: output)
            return CLOACINA_TASK_BAD_INPUT
        }
        values = members
    } catch {
        writeOutput(Array("the context is not valid JSON: \(error)".utf8), host: host, to: output)
        return CLOACINA_TASK_BAD_INPUT
    }

    var context = Context(values: values, call: call, host: host)
    do {
        try box.body(&context)
    } catch let failure as TaskFailure {
        writeOutput(Array(failure.message.utf8), host: host, to: output)
        switch failure.kind {
        case .retryable: return CLOACINA_TASK_RETRYABLE
        case .badInput: return CLOACINA_TASK_BAD_INPUT
        default: return CLOACINA_TASK_FAILED
        }
    } catch {
        writeOutput(Array(String(describing: error).utf8), host: host, to: output)
        return CLOACINA_TASK_FAILED
    }
    guard context.changed else { return CLOACINA_TASK_OK }
    guard writeOutput(JSONValue.object(context.values).serialized(), host: host, to: output) else {
        return CLOACINA_TASK_FAILED
    }
    return CLOACINA_TASK_OK
}

/// Copies `bytes` into memory from the host's allocator and hands it over as the call's output.
@discardableResult
private func writeOutput(
    _ bytes: [UInt8],
    host: UnsafePointer<cloacina_host_api>,
    to output: UnsafeMutablePointer<cloacina_output>
) -> Bool {
    guard !bytes.isEmpty else { return true }
    guard let alloc = host.pointee.alloc, let memory = alloc(bytes.count) else { return false }
    bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    output.pointee.data = memory.assumingMemoryBound(to: UInt8.self)
    output.pointee.len = bytes.count
    return true
}
