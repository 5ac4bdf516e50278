/// A native-signature task that cannot be built: a signature the parser or libffi cannot read, an argument or key
/// that does not fit it, or a type the converter does not support. Raised when a package registers the task, so the
/// package is rejected before anything runs.
///
/// The message names the offending part and says what was expected. Compare errors by ``code``.
public struct NativeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case signature
            case unsupportedType
            case binding
            case libffi
        }

        fileprivate let value: Value

        /// The signature text does not parse as a C function declaration.
        public static let signature = Code(value: .signature)
        /// The signature names a C type the converter does not support.
        public static let unsupportedType = Code(value: .unsupportedType)
        /// The context keys, the result key or the result check do not fit the signature.
        public static let binding = Code(value: .binding)
        /// libffi refused to prepare the call.
        public static let libffi = Code(value: .libffi)

        public var description: String {
            switch value {
            case .signature: return "invalid signature"
            case .unsupportedType: return "unsupported type"
            case .binding: return "invalid binding"
            case .libffi: return "libffi"
            }
        }
    }

    public let code: Code
    /// What is wrong, naming the offending value.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
