internal import CCloacinaABI

/// The code of one task inside a loaded package: a C function and the `user_data` the package registered with it.
///
/// Sendable because the ABI requires task functions to be callable from any thread at once, and the host never
/// unloads package images, so the pointers stay valid for the life of the process.
public struct TaskEntryPoint: @unchecked Sendable {
    let function: cloacina_task_fn
    let userData: UnsafeMutableRawPointer?
}
