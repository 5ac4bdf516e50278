internal import CCloacinaABI
internal import CloacinaJSON
internal import CloacinaNative

#if canImport(Glibc)
internal import Glibc
#endif

extension TaskEntryPoint {
    /// An entry point that runs `function` as a task of the JSON ABI: reads its arguments from the input context,
    /// calls it through libffi, and returns the input with the result under the binding's result key (or no output
    /// when there is no result, which passes the input on unchanged). Bad input, a failed result check and a result
    /// JSON cannot hold come back as the ABI's statuses with a message naming the key.
    ///
    /// Every path that calls a task (in process, in a worker process, with its time limit and cancellation) treats
    /// it as any other task. A C function cannot see `is_cancelled`: one that runs past its time limit is abandoned
    /// in process and killed with its worker under process isolation. The function object is kept for the life of
    /// the process, as package images are.
    static func native(_ function: NativeFunction) -> TaskEntryPoint {
        TaskEntryPoint(
            function: { userData, call, output in
                guard let userData, let call, let output else { return CLOACINA_TASK_FAILED }
                let function = Unmanaged<NativeFunction>.fromOpaque(userData).takeUnretainedValue()
                let context = UnsafeBufferPointer(start: call.pointee.context_json, count: call.pointee.context_len)
                return NativeTaskCall.run(function, context: context, output: output)
            },
            userData: Unmanaged.passRetained(function).toOpaque()
        )
    }
}

/// One call of a native-signature task through the JSON ABI.
private enum NativeTaskCall {
    static func run(
        _ function: NativeFunction,
        context: UnsafeBufferPointer<UInt8>,
        output: UnsafeMutablePointer<cloacina_output>
    ) -> Int32 {
        let members: JSONObjectMembers
        do {
            guard let parsed = try JSONObjectMembers.parse(context) else {
                return write("the input context is not a JSON object", to: output, status: CLOACINA_TASK_BAD_INPUT)
            }
            members = parsed
        } catch {
            return write("the input context is not JSON: \(error)", to: output, status: CLOACINA_TASK_BAD_INPUT)
        }
        switch function.call(members.values) {
        case .succeeded(let value):
            guard let key = function.binding.result, let value else { return CLOACINA_TASK_OK }
            // The input's members are copied as text; only the result is encoded.
            var writer = JSONObjectWriter(capacity: context.count + 64)
            for (member, range) in members.ranges.sorted(by: { $0.key < $1.key }) where member != key {
                writer.append(member, text: UnsafeBufferPointer(rebasing: context[range]))
            }
            writer.append(key, value: value)
            return write(writer.finish().bytes, to: output, status: CLOACINA_TASK_OK)
        case .badInput(let message): return write(message, to: output, status: CLOACINA_TASK_BAD_INPUT)
        case .failed(let message): return write(message, to: output, status: CLOACINA_TASK_FAILED)
        case .retryable(let message): return write(message, to: output, status: CLOACINA_TASK_RETRYABLE)
        }
    }

    private static func write(
        _ message: String,
        to output: UnsafeMutablePointer<cloacina_output>,
        status: Int32
    )
        -> Int32
    {
        write(Array(message.utf8), to: output, status: status)
    }

    /// Copies `bytes` into memory the host frees (`host->alloc` is `malloc`) and returns `status`; a failed
    /// allocation is a retryable failure without a message.
    private static func write(
        _ bytes: [UInt8],
        to output: UnsafeMutablePointer<cloacina_output>,
        status: Int32
    )
        -> Int32
    {
        guard let memory = malloc(max(bytes.count, 1)) else { return CLOACINA_TASK_RETRYABLE }
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        output.pointee.data = memory.assumingMemoryBound(to: UInt8.self)
        output.pointee.len = bytes.count
        return status
    }
}
