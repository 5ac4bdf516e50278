extension PackageLoader {
    /// The package files of a drop directory: its `*.so` files in name order, hidden files (such as installs in
    /// progress) skipped. Throws only when the directory cannot be read.
    public static func files(in directory: String) throws(PackageLoadError) -> [String] {
        do {
            return try FileSystem.listDirectory(directory).filter { $0.hasSuffix(".so") }.map { "\(directory)/\($0)" }
        } catch {
            throw PackageLoadError(.read, "\(error)")
        }
    }

    /// One `*.so` file of a drop directory as a scan sees it: its content's SHA-256, or why it could not be read.
    public struct ScannedFile: Sendable, Hashable {
        public var path: String
        public var sha256: Result<String, PackageLoadError>

    }

    /// The `*.so` files of `directory` in name order (hidden files, such as installs in progress, skipped), each
    /// with the SHA-256 of its content, without loading anything: what a reload compares with what it serves.
    /// Throws only when the directory cannot be read.
    public static func scan(directory: String) throws(PackageLoadError) -> [ScannedFile] {
        try files(in: directory).map { path in
            do throws(FileSystem.Failure) {
                return ScannedFile(path: path, sha256: .success(SHA256.hex(try FileSystem.readFile(path))))
            } catch {
                return ScannedFile(path: path, sha256: .failure(PackageLoadError(.read, error.description)))
            }
        }
    }
}
