internal import CCloacinaABI
internal import CloacinaModel
internal import CloacinaNative
internal import CloacinaStorage

/// A manifest and the library it declares, as read from disk and checked without running any code: what a foreign
/// library package is before it is opened (see ``ForeignManifest``).
///
/// Its identity (``sha256``) covers both files: the manifest's bytes and, for a library in the drop directory, the
/// library's, so a change to either is a new version. A system library (`libz.so.1`) belongs to the system and is
/// not part of the identity.
struct ForeignFiles {
    var manifestPath: String
    var manifestBytes: [UInt8]
    var manifest: ForeignManifest
    /// The library file beside the manifest, with its bytes and what its ELF structure says; nil for a system
    /// library.
    var library: (name: String, bytes: [UInt8], image: ELFImage)?
    var sha256: String

    /// Whether `file` is a manifest by its name.
    static func isManifest(_ file: String) -> Bool {
        file.hasSuffix(ForeignManifest.suffix)
    }

    /// The identity of a manifest and its library's bytes (nil for a system library): SHA-256 over a label, the
    /// manifest's length, the manifest and the library, so no two different pairs share it.
    static func sha256(manifest: [UInt8], library: [UInt8]?) -> String {
        var bytes = Array("cloacina-foreign-1\0".utf8)
        withUnsafeBytes(of: UInt64(manifest.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: manifest)
        bytes.append(contentsOf: library ?? [])
        return SHA256.hex(bytes)
    }

    /// The bytes of a manifest and of the library file it names (if it names one), and their identity; reads
    /// nothing else and judges nothing else.
    static func identity(
        of manifestPath: String
    ) throws(PackageLoadError) -> (manifest: [UInt8], libraryName: String?, library: [UInt8]?, sha256: String) {
        let manifest: [UInt8]
        do {
            manifest = try FileSystem.readFile(manifestPath, limit: ForeignManifest.maximumBytes)
        } catch {
            throw PackageLoadError(.read, "\(error)")
        }
        let directory = manifestPath.lastIndex(of: "/").map { String(manifestPath[..<$0]) } ?? "."
        let libraryName = ForeignManifest.libraryFile(in: manifest)
        var library: [UInt8]?
        if let libraryName {
            do {
                library = try FileSystem.readFile(
                    "\(directory)/\(libraryName)",
                    limit: PackageLoader.maximumPackageBytes
                )
            } catch {
                throw PackageLoadError(.read, "the manifest's library \(libraryName): \(error)")
            }
        }
        return (manifest, libraryName, library, sha256(manifest: manifest, library: library))
    }

    /// Reads and checks `manifestPath` and its library: stages read, manifest, elf and symbols (every task's
    /// function and free function must be exported by a library file). Runs no code.
    static func read(
        _ manifestPath: String,
        report: inout PackageReport,
        progress: (PackageLoadError.Stage) -> Void
    ) throws(PackageLoadError) -> ForeignFiles {
        progress(.read)
        let (manifestBytes, libraryName, libraryBytes, sha256) = try identity(of: manifestPath)
        report.sha256 = sha256

        progress(.manifest)
        let manifest: ForeignManifest
        do {
            manifest = try ForeignManifest(bytes: manifestBytes)
        } catch {
            throw PackageLoadError(.manifest, error.message)
        }
        guard let libraryName, let libraryBytes else {
            return ForeignFiles(
                manifestPath: manifestPath,
                manifestBytes: manifestBytes,
                manifest: manifest,
                library: nil,
                sha256: sha256
            )
        }

        progress(.elf)
        let image: ELFImage
        switch libraryBytes.withUnsafeBytes({ buffer in Result { () throws(ELFError) in try ELFImage.inspect(buffer) } }
        )
        {
        case .success(let inspected): image = inspected
        case .failure(let error): throw PackageLoadError(.elf, "the library \(libraryName): \(error.reason)")
        }

        progress(.symbols)
        let needed = manifest.tasks.flatMap { [$0.symbol] + ($0.free.map { [$0] } ?? []) }
        var missing: [String] = []
        for symbol in needed where !image.exportedSymbols.contains(symbol) && !missing.contains(symbol) {
            missing.append(symbol)
        }
        guard missing.isEmpty else {
            throw PackageLoadError(
                .symbols,
                "the library \(libraryName) does not export \(missing.joined(separator: ", "))"
            )
        }
        return ForeignFiles(
            manifestPath: manifestPath,
            manifestBytes: manifestBytes,
            manifest: manifest,
            library: (libraryName, libraryBytes, image),
            sha256: sha256
        )
    }
}

extension PackageLoader {
    /// Copies the manifest and its library file into the cache, in `<cache>/<sha256>/` under their own names (so the
    /// copy of the manifest finds its library beside it, as in the drop directory); returns the manifest's copy.
    func install(_ files: ForeignFiles) throws(PackageLoadError) -> String {
        try installForeign(
            manifestPath: files.manifestPath,
            manifest: files.manifestBytes,
            library: files.library.map { ($0.name, $0.bytes) },
            sha256: files.sha256
        )
    }

    /// ``install(_:)`` from the bytes alone (a manifest and its library file, whose identity is `sha256`), for a
    /// package a loading probe already judged.
    func installForeign(
        manifestPath: String,
        manifest: [UInt8],
        library: (name: String, bytes: [UInt8])?,
        sha256: String
    ) throws(PackageLoadError) -> String {
        let name = String(manifestPath.split(separator: "/").last ?? "")
        var entries = [(name: name, bytes: manifest)]
        if let library { entries.append(library) }
        let slot = try cache.install(entries, sha256: sha256)
        if cache.durable == .deferred { noteUnsynced(slot.paths) }
        return "\(slot.directory)/\(name)"
    }

    /// Opens a foreign library package that passed ``ForeignFiles/read(_:report:progress:)``: copies the manifest and
    /// the library into the cache (`<cache>/<sha256>/`, the same names), opens the copy (or the system library),
    /// finds each task's function, prepares its call through libffi, and registers the workflows, which are then
    /// validated like any package's.
    func openForeign(
        _ files: ForeignFiles,
        report: inout PackageReport,
        progress: (PackageLoadError.Stage) -> Void
    ) throws(PackageLoadError) -> LoadedPackage {
        let manifest = files.manifest
        let info = PackageInfo(
            name: manifest.name,
            version: manifest.version,
            abiMajor: Int(CLOACINA_ABI_MAJOR),
            abiMinor: Int(CLOACINA_ABI_MINOR),
            toolchain: nil,
            isSwift: false,
            library: files.library?.name ?? manifest.soname
        )
        report.info = info

        progress(.cache)
        let imagePath = try install(files)
        let slot = String(imagePath[..<(imagePath.lastIndex(of: "/") ?? imagePath.startIndex)])

        progress(.dlopen)
        let libraryName = files.library?.name ?? manifest.soname ?? ""
        let library: DynamicLibrary
        do {
            library = try DynamicLibrary.open(files.library.map { "\(slot)/\($0.name)" } ?? libraryName)
        } catch {
            throw PackageLoadError(.dlopen, "\(libraryName): \(error.reason)")
        }

        progress(.initialization)
        let registrar = PackageRegistrar()
        for workflow in manifest.workflows {
            registrar.registerWorkflow(name: workflow.name, description: workflow.description)
        }
        var unresolved: [String] = []
        for task in manifest.tasks {
            guard let address = library.function(task.symbol) else {
                unresolved.append(task.symbol)
                continue
            }
            var release: UnsafeMutableRawPointer?
            if let free = task.free {
                guard let address = library.function(free) else {
                    unresolved.append(free)
                    continue
                }
                release = address
            }
            do throws(NativeError) {
                let function = try NativeFunction(binding: task.binding, function: address, release: release)
                registrar.register(task.definition, of: task.workflow, entryPoint: .native(function))
            } catch {
                throw PackageLoadError(
                    .initialization,
                    "task \"\(task.definition.id)\" (\(task.symbol)): \(error.message)"
                )
            }
        }
        registrar.close()
        guard unresolved.isEmpty else {
            throw PackageLoadError(.symbols, "\(libraryName) has no symbol \(unresolved.joined(separator: ", "))")
        }
        guard registrar.problems.isEmpty else {
            throw PackageLoadError(.initialization, registrar.problems.joined(separator: "; "))
        }

        progress(.validation)
        let staged = registrar.staged()
        try Self.validate(staged.workflows)
        return LoadedPackage(
            info: info,
            sha256: files.sha256,
            file: files.manifestPath,
            imagePath: imagePath,
            workflows: staged.workflows,
            entryPoints: staged.entryPoints
        )
    }
}

extension ForeignManifest {
    /// The system library's soname; nil for a library file.
    var soname: String? {
        if case .system(let name) = library { return name }
        return nil
    }
}
