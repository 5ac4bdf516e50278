extension PackageLoader {
    /// The package files of a drop directory, in name order, hidden files (such as installs in progress) skipped:
    /// its `*.so` files and its foreign library manifests (`*.workflow.json`), but not a `.so` that a manifest
    /// names as its library (it is part of that package). Throws only when the directory cannot be read.
    public static func files(in directory: String) throws(PackageLoadError) -> [String] {
        let names: [String]
        do {
            names = try FileSystem.listDirectory(directory)
        } catch {
            throw PackageLoadError(.read, "\(error)")
        }
        var libraries: Set<String> = []
        for name in names where ForeignFiles.isManifest(name) {
            guard let bytes = try? FileSystem.readFile("\(directory)/\(name)", limit: ForeignManifest.maximumBytes),
                let library = ForeignManifest.libraryFile(in: bytes)
            else { continue }
            libraries.insert(library)
        }
        return names.filter { name in
            ForeignFiles.isManifest(name) || (name.hasSuffix(".so") && !libraries.contains(name))
        }.map { "\(directory)/\($0)" }
    }

    /// One package file of a drop directory as a scan sees it: its content's SHA-256 (for a manifest, of the
    /// manifest and its library together), or why it could not be read.
    public struct ScannedFile: Sendable, Hashable {
        public var path: String
        public var sha256: Result<String, PackageLoadError>

    }

    /// The package files of `directory` (see ``files(in:)``), each with the SHA-256 of its content, without loading
    /// anything: what a reload compares with what it serves. Throws only when the directory cannot be read.
    public static func scan(directory: String) throws(PackageLoadError) -> [ScannedFile] {
        try files(in: directory).map { path in
            ScannedFile(path: path, sha256: Result { () throws(PackageLoadError) in try contentSHA256(of: path) })
        }
    }

    /// The identity of a package file's content: its SHA-256, or a manifest's with its library's.
    static func contentSHA256(of path: String) throws(PackageLoadError) -> String {
        if ForeignFiles.isManifest(path) { return try ForeignFiles.identity(of: path).sha256 }
        do {
            return SHA256.hex(try FileSystem.readFile(path))
        } catch {
            throw PackageLoadError(.read, error.description)
        }
    }
}
