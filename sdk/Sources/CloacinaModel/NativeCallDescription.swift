/// How a native-signature task is called, as a definition shows it: the C declaration, the context key of each
/// argument, the key of the result, the symbol of a foreign library's function, and the result check.
///
/// A description only, for `check`, listings and the definitions sent between processes: the host builds and checks
/// the call itself (CloacinaNative) when the package registers the task.
public struct NativeCallDescription: Sendable, Hashable {
    /// The C declaration, as the host read it back (`double score(int64_t n, double weight, const char *label)`).
    public var signature: String
    /// One per C parameter: a context key, or `len(KEY)`.
    public var arguments: [String]
    /// The context key that receives the result; nil when there is none.
    public var result: String?
    /// The exported function's name, for a task of a foreign library; nil for a function a package registered.
    public var symbol: String?
    /// `negative`, `zero`, `nonzero` or `null`: the result that fails the call; nil when none does.
    public var failIf: String?

    public init(signature: String, arguments: [String], result: String?, symbol: String? = nil, failIf: String? = nil) {
        self.signature = signature
        self.arguments = arguments
        self.result = result
        self.symbol = symbol
        self.failIf = failIf
    }
}
