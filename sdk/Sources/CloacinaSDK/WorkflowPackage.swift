public import CCloacinaABI
internal import CCloacinaSDKEntry

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A workflow package: a name, a version and the workflows it contributes.
///
/// Declare one per shared object as a global constant and export it with one line:
///
/// ```swift
/// import CloacinaSDK
///
/// let reports = WorkflowPackage(name: "reports", version: "1.0.0") {
///     Workflow("nightly_report") { ... }
/// }
///
/// @c(cloacina_swift_package) func cloacinaSwiftPackage() -> UnsafeRawPointer { reports.exported }
/// ```
///
/// The SDK implements the ABI's entry points (`cloacina_package_info`, `cloacina_package_init`) on top of that
/// function. Only C data crosses into the host: names, JSON and function pointers.
///
/// The definition is evaluated when the host first reads the package's info, before it decides to load it, so keep
/// it free of side effects: declare workflows and tasks, do work only inside task bodies.
public final class WorkflowPackage: Sendable {
    public let name: String
    public let version: String
    public let workflows: [Workflow]
    /// The C description returned by `cloacina_package_info`; lives as long as the package (for ever).
    nonisolated(unsafe) let info: UnsafeMutablePointer<cloacina_package_descriptor>

    public init(name: String, version: String, @WorkflowListBuilder workflows: () -> [Workflow]) {
        self.name = name
        self.version = version
        self.workflows = workflows()
        let info = UnsafeMutablePointer<cloacina_package_descriptor>.allocate(capacity: 1)
        info.initialize(to: cloacina_package_descriptor())
        info.pointee.struct_size = UInt32(MemoryLayout<cloacina_package_descriptor>.size)
        info.pointee.abi_major = UInt16(CLOACINA_ABI_MAJOR)
        info.pointee.abi_minor = UInt16(CLOACINA_ABI_MINOR)
        info.pointee.flags = UInt64(CLOACINA_PACKAGE_FLAG_SWIFT)
        info.pointee.name = UnsafePointer(strdup(name))
        info.pointee.version = UnsafePointer(strdup(version))
        info.pointee.toolchain = cloacina_sdk_toolchain_tag()
        self.info = info
    }

    /// The value to return from `cloacina_swift_package`. The package must outlive the process (a global constant).
    public var exported: UnsafeRawPointer {
        UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
    }

    /// The toolchain tag compiled into this image; the host loads the package only if it matches its own.
    public static var toolchainTag: String { String(cString: cloacina_sdk_toolchain_tag()) }

    /// What `cloacina_package_info` returns for this package: for hosts that load the package in-process, without
    /// a shared object (the engine's `DefaultRunner.register(_:)`).
    public var descriptor: UnsafePointer<cloacina_package_descriptor> { UnsafePointer(info) }

    /// What `cloacina_package_init` does for this package: registers its workflows and tasks through `host`.
    public func initialize(host: UnsafePointer<cloacina_host_api>, registrar: OpaquePointer) -> Int32 {
        register(host: host, registrar: registrar)
    }
}

@c(cloacina_sdk_package_info)
func cloacinaSDKPackageInfo(_ exported: UnsafeRawPointer?) -> UnsafePointer<cloacina_package_descriptor>? {
    guard let exported else { return nil }
    let package = Unmanaged<WorkflowPackage>.fromOpaque(exported).takeUnretainedValue()
    return UnsafePointer(package.info)
}

@c(cloacina_sdk_package_init)
func cloacinaSDKPackageInit(
    _ exported: UnsafeRawPointer?,
    _ host: UnsafePointer<cloacina_host_api>?,
    _ registrar: OpaquePointer?
) -> Int32 {
    guard let exported, let host, let registrar else { return 1 }
    let package = Unmanaged<WorkflowPackage>.fromOpaque(exported).takeUnretainedValue()
    return package.register(host: host, registrar: registrar)
}
