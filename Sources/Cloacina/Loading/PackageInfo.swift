/// The identity of a package, from its `cloacina_package_info` and its bytes.
public struct PackageInfo: Sendable, Hashable {
    public var name: String
    public var version: String
    public var abiMajor: Int
    public var abiMinor: Int
    /// The toolchain tag a Swift package was built with; nil for C packages.
    public var toolchain: String?
    /// Whether the package contains Swift code.
    public var isSwift: Bool
    /// For a package declared by a manifest over an existing shared library: the library, a file beside the
    /// manifest (`legacy.so`) or a system soname (`libz.so.1`); nil for a workflow package.
    public var library: String?

    public init(
        name: String,
        version: String,
        abiMajor: Int,
        abiMinor: Int,
        toolchain: String?,
        isSwift: Bool,
        library: String? = nil
    ) {
        self.name = name
        self.version = version
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.toolchain = toolchain
        self.isSwift = isSwift
        self.library = library
    }

    /// The ABI version as "major.minor".
    public var abi: String { "\(abiMajor).\(abiMinor)" }
}
