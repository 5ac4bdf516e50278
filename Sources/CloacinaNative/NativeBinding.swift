internal import CloacinaModel

/// How a native-signature task meets its context: which context key feeds each C parameter, which key receives
/// the result, and which results mean the call failed. Validated whole against its ``NativeSignature`` when made,
/// so a task that was built can only fail at run time on its input.
///
/// A description only: the function to call and its prepared libffi call are a ``NativeFunction``.
public struct NativeBinding: Sendable, Hashable {
    /// Where one C argument comes from.
    public enum Argument: Sendable, Hashable, CustomStringConvertible {
        /// The context value of a top-level key.
        case key(String)
        /// The byte count of another argument's buffer or string (written `len(KEY)`), for a length parameter.
        case length(of: String)

        /// Reads `KEY` or `len(KEY)`.
        public init(parsing text: String) throws(NativeError) {
            if text.hasPrefix("len("), text.hasSuffix(")") {
                let key = String(text.dropFirst(4).dropLast())
                try Self.checkKey(key, in: text)
                self = .length(of: key)
            } else {
                try Self.checkKey(text, in: text)
                self = .key(text)
            }
        }

        public var description: String {
            switch self {
            case .key(let key): return key
            case .length(let key): return "len(\(key))"
            }
        }

        private static func checkKey(_ key: String, in text: String) throws(NativeError) {
            do {
                try NameRule.validate(key, as: "context key")
            } catch {
                throw NativeError(.binding, "argument \"\(text)\": \(error.message)")
            }
        }
    }

    /// A result that means the call failed (C's error conventions).
    public enum FailureCondition: String, Sendable, Hashable, CaseIterable {
        case negative
        case zero
        case nonzero
        case null

        /// Reads `negative`, `zero`, `nonzero` (or `non-zero`) or `null`.
        public init(parsing text: String) throws(NativeError) {
            guard let condition = Self(rawValue: text == "non-zero" ? "nonzero" : text) else {
                throw NativeError(
                    .binding,
                    "unknown fail_if \"\(text)\" (use \(Self.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            self = condition
        }
    }

    public let signature: NativeSignature
    /// One per C parameter, in order.
    public let arguments: [Argument]
    /// The context key that receives the result; nil for `void`, or to discard it.
    public let result: String?
    /// The result that means the call failed; nil when every result is a success.
    public let failIf: FailureCondition?
    /// Whether a failure's message carries `errno` as the call left it.
    public let readsErrno: Bool
    /// Whether a failure (by ``failIf``) is worth retrying; otherwise it fails the attempt for good.
    public let retryable: Bool
    /// Whether a string result is released after it is copied (with the function the task names).
    public let freesResult: Bool

    /// Builds a binding, checking every part against `signature`; throws a ``NativeError`` naming the part.
    public init(
        signature: NativeSignature,
        arguments: [Argument],
        result: String?,
        failIf: FailureCondition? = nil,
        readsErrno: Bool = false,
        retryable: Bool = false,
        freesResult: Bool = false
    ) throws(NativeError) {
        let declared = signature.parameters.count
        guard arguments.count == declared else {
            throw NativeError(
                .binding,
                "the signature \"\(signature)\" takes \(declared) parameter\(declared == 1 ? "" : "s") but "
                    + "\(arguments.count) argument\(arguments.count == 1 ? " was" : "s were") given"
            )
        }
        for (position, (argument, parameter)) in zip(arguments, signature.parameters).enumerated() {
            guard case .length(let key) = argument else { continue }
            guard parameter.type.isInteger else {
                throw NativeError(
                    .binding,
                    "argument \(position + 1) (\(argument)) is a length, but its parameter is \(parameter.spelling); "
                        + "a length goes to an integer parameter"
                )
            }
            let measured = zip(arguments, signature.parameters).contains { other, otherParameter in
                other == .key(key) && (otherParameter.type == .buffer || otherParameter.type == .string)
            }
            guard measured else {
                throw NativeError(
                    .binding,
                    "argument \(position + 1) (\(argument)): no buffer or string parameter takes the key \"\(key)\""
                )
            }
        }
        if let result {
            guard signature.result != .void else {
                throw NativeError(.binding, "the function returns void, so it has no result for the key \"\(result)\"")
            }
            do {
                try NameRule.validate(result, as: "result key")
            } catch {
                throw NativeError(.binding, error.message)
            }
        }
        if let failIf {
            let type = signature.result
            let fits: Bool
            switch failIf {
            case .negative: fits = type.isSigned
            case .zero, .nonzero: fits = type.isInteger || type == .bool || type == .float || type == .double
            case .null: fits = type == .string
            }
            guard fits else {
                throw NativeError(
                    .binding,
                    "fail_if \"\(failIf.rawValue)\" does not apply to a result of type \(signature.resultSpelling)"
                )
            }
        } else if readsErrno || retryable {
            throw NativeError(
                .binding,
                "\(readsErrno ? "errno" : "retryable") applies only to a failure, and no fail_if says when the call failed"
            )
        }
        guard !freesResult || signature.result == .string else {
            throw NativeError(.binding, "only a string result can be freed; the result is \(signature.resultSpelling)")
        }
        self.signature = signature
        self.arguments = arguments
        self.result = result
        self.failIf = failIf
        self.readsErrno = readsErrno
        self.retryable = retryable
        self.freesResult = freesResult
    }
}
