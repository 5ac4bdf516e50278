internal import CFFI
public import CloacinaJSON

#if canImport(Glibc)
internal import Glibc
#endif

/// A C function prepared for calls through libffi with its ``NativeBinding``: converts context values to C
/// arguments, makes the call, and turns the result into a JSON value or a failure.
///
/// The prepared call (`ffi_cif`) is made once and only read afterwards, so one function may be called from many
/// threads at once, as the ABI asks of every task (whether the C function itself is re-entrant is its author's
/// promise). It blocks for as long as the C function runs; call it on a thread of its own, never the cooperative
/// pool. It does not parse or write contexts: see the host's native task entry point.
public final class NativeFunction: @unchecked Sendable {
    public let binding: NativeBinding
    private let function: UnsafeMutableRawPointer
    private let release: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let types: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    /// What one call came to.
    public enum Outcome: Sendable, Hashable {
        /// The call succeeded; the value for the binding's result key (nil when it has none).
        case succeeded(JSONValue?)
        /// An argument was missing or did not fit its C type; the message names the key. Never retried.
        case badInput(String)
        /// The result check said the call failed, or the result cannot be written as JSON.
        case failed(String)
        /// The result check said the call failed, and the binding says that is worth retrying.
        case retryable(String)
    }

    /// Prepares `function` (the address of a C function of the binding's signature) for calls; `release`, when
    /// given, is a `void f(void *)` called on a string result once it is copied. Throws when libffi cannot
    /// prepare the call.
    public init(
        binding: NativeBinding,
        function: UnsafeMutableRawPointer,
        release: UnsafeMutableRawPointer? = nil
    ) throws(NativeError) {
        guard binding.freesResult == (release != nil) else {
            throw NativeError(.binding, "a string result is freed only with a function to free it, and only then")
        }
        let parameters = binding.signature.parameters
        let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: max(parameters.count, 1))
        for (index, parameter) in parameters.enumerated() { types[index] = parameter.type.ffiType }
        let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        let status = cloacina_ffi_prep(cif, UInt32(parameters.count), binding.signature.result.ffiType, types)
        guard status == 0 else {
            cif.deallocate()
            types.deallocate()
            throw NativeError(.libffi, "libffi cannot prepare a call of \"\(binding.signature)\" (status \(status))")
        }
        self.binding = binding
        self.function = function
        self.release = release.map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self) }
        self.cif = cif
        self.types = types
    }

    deinit {
        cif.deallocate()
        types.deallocate()
    }

    /// Calls the function with arguments taken from `context` (the task's input, a JSON object's members).
    public func call(_ context: [String: JSONValue]) -> Outcome {
        let parameters = binding.signature.parameters
        let slots = UnsafeMutableRawPointer.allocate(byteCount: max(parameters.count, 1) * 8, alignment: 8)
        let pointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(parameters.count, 1))
        var owned: [UnsafeMutableRawPointer] = []
        defer {
            for memory in owned { memory.deallocate() }
            pointers.deallocate()
            slots.deallocate()
        }
        var lengths: [String: Int] = [:]
        for (index, (argument, parameter)) in zip(binding.arguments, parameters).enumerated() {
            let slot = slots + index * 8
            pointers[index] = slot
            guard case .key(let key) = argument else { continue }
            guard let value = context[key] else {
                return .badInput("the context has no key \"\(key)\" (\(parameter.spelling) argument \(index + 1))")
            }
            do throws(NativeInputError) {
                switch try parameter.type.argument(from: value) {
                case .bits(let bits): parameter.type.store(bits, at: slot)
                case .float(let number): slot.storeBytes(of: number, as: Float.self)
                case .double(let number): slot.storeBytes(of: number, as: Double.self)
                case .bytes(let bytes):
                    let memory = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
                    owned.append(memory)
                    bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                    memory.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
                    slot.storeBytes(of: memory, as: UnsafeMutableRawPointer.self)
                    lengths[key] = bytes.count
                }
            } catch {
                return .badInput("key \"\(key)\" (\(parameter.spelling) argument \(index + 1)): \(error.reason)")
            }
        }
        for (index, (argument, parameter)) in zip(binding.arguments, parameters).enumerated() {
            guard case .length(let key) = argument, let length = lengths[key] else { continue }
            guard let range = parameter.type.integerRange, range.contains(length) else {
                return .badInput(
                    "key \"\(key)\" holds \(length) bytes, more than \(parameter.spelling) argument \(index + 1) can count"
                )
            }
            parameter.type.store(UInt64(length), at: slots + index * 8)
        }
        var result = (UInt64(0), UInt64(0))
        let error = withUnsafeMutableBytes(of: &result) { buffer in
            cloacina_ffi_call(cif, function, buffer.baseAddress, pointers)
        }
        return withUnsafeBytes(of: result) { finish(UnsafeRawPointer($0.baseAddress!), errno: error) }
    }

    /// The outcome for the result at `result`: the check first, then the conversion to JSON.
    private func finish(_ result: UnsafeRawPointer, errno error: Int32) -> Outcome {
        let type = binding.signature.result
        var string: UnsafeMutablePointer<CChar>?
        if type == .string { string = result.load(as: UnsafeMutablePointer<CChar>?.self) }
        defer { if let string, let release { release(string) } }
        if let condition = binding.failIf, Self.fails(condition, type: type, result: result) {
            let name = binding.signature.name ?? "the function"
            var message = "\(name) returned \(Self.shown(type: type, result: result))"
            message += " (fail_if \(condition.rawValue))"
            if binding.readsErrno {
                let text = strerror(error).map { String(cString: $0) } ?? "unknown error"
                message += ": errno \(error), \(text)"
            }
            return binding.retryable ? .retryable(message) : .failed(message)
        }
        guard binding.result != nil else { return .succeeded(nil) }
        switch type {
        case .void: return .succeeded(nil)
        case .bool: return .succeeded(.bool(result.load(as: UInt8.self) != 0))
        case .float, .double:
            let number = type == .float ? Double(result.load(as: Float.self)) : result.load(as: Double.self)
            guard number.isFinite else {
                return .failed("the result is \(number), which a JSON number cannot hold")
            }
            return .succeeded(.double(number))
        case .string:
            guard let string else { return .succeeded(.null) }
            guard let text = String(validatingCString: string) else {
                return .failed("the string result is not valid UTF-8")
            }
            return .succeeded(.string(text))
        case .uint64:
            let value = result.load(as: UInt64.self)
            guard let exact = Int(exactly: value) else {
                return .failed(
                    "the result \(value) is larger than a context integer holds (\(Int.max)); declare the result "
                        + "int64_t to receive its bits as a signed value"
                )
            }
            return .succeeded(.int(exact))
        case .buffer: return .failed("a buffer result is not supported")
        default: return .succeeded(.int(type.signedValue(at: result)))
        }
    }

    private static func fails(
        _ condition: NativeBinding.FailureCondition,
        type: NativeType,
        result: UnsafeRawPointer
    )
        -> Bool
    {
        switch type {
        case .string:
            let isNull = result.load(as: UnsafeRawPointer?.self) == nil
            return condition == .null ? isNull : false
        case .float, .double:
            let number = type == .float ? Double(result.load(as: Float.self)) : result.load(as: Double.self)
            switch condition {
            case .negative: return number < 0
            case .zero: return number == 0
            case .nonzero: return number != 0
            case .null: return false
            }
        case .bool:
            let value = result.load(as: UInt8.self) != 0
            return condition == .zero ? !value : condition == .nonzero ? value : false
        case .uint64:
            let value = result.load(as: UInt64.self)
            return condition == .zero ? value == 0 : condition == .nonzero ? value != 0 : false
        default:
            let value = type.signedValue(at: result)
            switch condition {
            case .negative: return value < 0
            case .zero: return value == 0
            case .nonzero: return value != 0
            case .null: return false
            }
        }
    }

    /// The result as a failure message shows it.
    private static func shown(type: NativeType, result: UnsafeRawPointer) -> String {
        switch type {
        case .string: return result.load(as: UnsafeRawPointer?.self) == nil ? "NULL" : "a string"
        case .float: return "\(result.load(as: Float.self))"
        case .double: return "\(result.load(as: Double.self))"
        case .bool: return result.load(as: UInt8.self) != 0 ? "true" : "false"
        case .uint64: return "\(result.load(as: UInt64.self))"
        default: return "\(type.signedValue(at: result))"
        }
    }
}

extension NativeType {
    /// The libffi type descriptor of this type (`bool` is one byte, pointers are pointers).
    var ffiType: UnsafeMutablePointer<ffi_type> {
        let code: Int32
        switch self {
        case .void: code = Int32(CLOACINA_FFI_VOID)
        case .bool, .uint8: code = Int32(CLOACINA_FFI_UINT8)
        case .int8: code = Int32(CLOACINA_FFI_SINT8)
        case .int16: code = Int32(CLOACINA_FFI_SINT16)
        case .uint16: code = Int32(CLOACINA_FFI_UINT16)
        case .int32: code = Int32(CLOACINA_FFI_SINT32)
        case .uint32: code = Int32(CLOACINA_FFI_UINT32)
        case .int64: code = Int32(CLOACINA_FFI_SINT64)
        case .uint64: code = Int32(CLOACINA_FFI_UINT64)
        case .float: code = Int32(CLOACINA_FFI_FLOAT)
        case .double: code = Int32(CLOACINA_FFI_DOUBLE)
        case .string, .buffer: code = Int32(CLOACINA_FFI_POINTER)
        }
        return cloacina_ffi_type(code)!
    }

    /// Writes the low bits of `bits` at `slot` with this integer type's width (`bool` as one byte).
    func store(_ bits: UInt64, at slot: UnsafeMutableRawPointer) {
        switch self {
        case .bool, .int8, .uint8: slot.storeBytes(of: UInt8(truncatingIfNeeded: bits), as: UInt8.self)
        case .int16, .uint16: slot.storeBytes(of: UInt16(truncatingIfNeeded: bits), as: UInt16.self)
        case .int32, .uint32: slot.storeBytes(of: UInt32(truncatingIfNeeded: bits), as: UInt32.self)
        default: slot.storeBytes(of: bits, as: UInt64.self)
        }
    }

    /// A result of a (signed or unsigned, at most 32-bit, or `int64_t`) integer type at `result`, as an `Int`.
    func signedValue(at result: UnsafeRawPointer) -> Int {
        switch self {
        case .int8: return Int(result.load(as: Int8.self))
        case .uint8: return Int(result.load(as: UInt8.self))
        case .int16: return Int(result.load(as: Int16.self))
        case .uint16: return Int(result.load(as: UInt16.self))
        case .int32: return Int(result.load(as: Int32.self))
        case .uint32: return Int(result.load(as: UInt32.self))
        default: return Int(result.load(as: Int64.self))
        }
    }
}
