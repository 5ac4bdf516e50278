#if canImport(Glibc)
internal import Glibc
#endif

/// A shared object opened with `dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)`, never closed.
///
/// Swift images cannot be unloaded safely (the runtime keeps pointers into their metadata), and in-flight calls
/// may still run old code, so the host keeps every image mapped for the life of the process. Reloading a changed
/// package means opening a new path; the same path returns the image already loaded.
struct DynamicLibrary: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    /// Opens `path`, resolving every symbol now. Throws the dynamic loader's message.
    static func open(_ path: String) throws(PackageLoadError) -> DynamicLibrary {
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            // The message starts with the path opened, a cache entry the user never named; reports name the file.
            var message = lastError() ?? "dlopen failed"
            if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
            throw PackageLoadError(.dlopen, message)
        }
        return DynamicLibrary(handle: handle)
    }

    /// The address of the function `name` in this image (not in its dependencies' search scope beyond it).
    func function(_ name: String) -> UnsafeMutableRawPointer? {
        _ = dlerror()
        return dlsym(handle, name)
    }

    private static func lastError() -> String? {
        guard let message = dlerror() else { return nil }
        return String(cString: message)
    }
}
