internal import CCloacinaABI
internal import CloacinaModel
public import CloacinaSDK
internal import Dispatch
public import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// Loads workflow package files into this process, one checked step at a time, and remembers what it loaded.
///
/// For each file: read it; check it is a complete ELF shared object for this machine that exports both entry
/// points (before any of its code can run); hash it; check a Swift package's toolchain tag against the host's;
/// copy it into the content-addressed cache; `dlopen` the copy; check its info; run its init into a staging
/// registrar; validate every workflow. A package is accepted whole or not at all, and every rejection names the
/// stage and the reason. A rejected file never affects other files.
///
/// Content is the identity: loading bytes already seen (from any path) returns the earlier result without running
/// anything again, so an image's init never runs twice. What a loader does not do: decide between packages that
/// claim the same workflow name (see ``PackageCatalog``), or protect the process from code that crashes while it
/// loads (see ``PackageProbe``).
public final class PackageLoader: Sendable {
    let cache: PackageCache
    private let logger: Logger
    /// Every content (or embedded package) seen, loaded or being loaded.
    private let loaded = Mutex<[String: Entry]>([:])
    /// Copies made since the last ``syncCache()``, when syncing is deferred.
    private let unsynced = Mutex<[String]>([])

    /// The logger of the package whose init is running on this thread, for `host->log` calls made without a task.
    @TaskLocal static var initLogger: Logger?

    private struct Outcome: Sendable {
        var file: String
        var info: PackageInfo?
        var result: Result<LoadedPackage, PackageLoadError>
    }

    private enum Entry {
        case loading(InFlight)
        case done(Outcome)
    }

    /// A load in progress on one thread, which others loading the same content wait for.
    private final class InFlight: Sendable {
        let finished = DispatchGroup()
        let outcome = Mutex<Outcome?>(nil)
    }

    /// Creates a loader that keeps its copies of package images in `cacheDirectory` (created if missing, and
    /// refused if another user could write to it). Copies are forced to disk (so a restarted host finds every
    /// version it ran) before they are opened, or, with `deferSync`, when ``syncCache()`` is called (a reload of
    /// many packages pays for one flush); a throwaway cache (a loading probe's) sets `durableCache` to false.
    public init(
        cacheDirectory: String,
        durableCache: Bool = true,
        deferSync: Bool = false,
        logger: Logger = Logger(label: "cloacina.loader")
    ) {
        self.cache = PackageCache(
            directory: cacheDirectory,
            durable: !durableCache ? .none : deferSync ? .deferred : .immediate
        )
        self.logger = logger
    }

    /// Where the loader keeps its copies of package images.
    public var cacheDirectory: String { cache.directory }

    /// Remembers copies to force to disk at the next ``syncCache()``.
    func noteUnsynced(_ paths: [String]) {
        unsynced.withLock { $0.append(contentsOf: paths) }
    }

    /// Forces the copies made since the last call to disk (with `deferSync`); call it before anything that must
    /// survive a crash depends on them.
    public func syncCache() throws(PackageLoadError) {
        let paths = unsynced.withLock { paths in
            defer { paths.removeAll() }
            return paths
        }
        try cache.sync(paths)
    }

    /// The largest package file loaded: `CLOACINA_MAX_PACKAGE_BYTES` (bytes), else 256 MiB. Read once per process,
    /// so a host and its loading probes agree.
    public static let maximumPackageBytes: Int = {
        guard let text = getenv("CLOACINA_MAX_PACKAGE_BYTES").map({ String(cString: $0) }), let value = Int(text),
            value > 0
        else { return 256 << 20 }
        return value
    }()

    /// The toolchain tag of this host, which Swift packages must carry.
    public static var hostToolchain: String { String(cString: cloacina_toolchain_tag()) }

    /// The Swift compiler version this host was built with, such as "6.3.1".
    public static var hostSwiftVersion: String {
        let version = cloacina_swift_compiler_version()
        guard version > 0 else { return "unknown" }
        return "\(version / 10000).\(version / 100 % 100).\(version % 100)"
    }

    /// Loads one file. `progress` is told each stage as it starts, so a caller watching from outside can tell
    /// where a crash happened.
    public func load(file: String, progress: (PackageLoadError.Stage) -> Void = { _ in }) -> PackageReport {
        load(file: file, expecting: nil, progress: progress)
    }

    /// Loads one file, refusing it before any of its code runs unless its content has the SHA-256 `expected` (when
    /// given): what a loading probe judged is what loads.
    func load(
        file: String,
        expecting expected: String?,
        progress: (PackageLoadError.Stage) -> Void = { _ in }
    ) -> PackageReport {
        let candidate: Candidate
        switch Self.inspect(file: file, progress: progress) {
        case .rejected(let report): return report
        case .candidate(let inspected): candidate = inspected
        }
        if let expected, candidate.sha256 != expected {
            return candidate.report.rejected(
                PackageLoadError(.read, "the file changed after it was probed; it is loaded again on change")
            )
        }
        var report = candidate.report
        let sha256 = candidate.sha256
        let (outcome, fresh) = once(sha256) {
            var staged = report
            let result: Result<LoadedPackage, PackageLoadError>
            switch candidate.content {
            case .image(let bytes, let image):
                result = open(
                    bytes: bytes,
                    sha256: sha256,
                    file: file,
                    image: image,
                    report: &staged,
                    progress: progress
                )
            case .foreign(let files):
                result = Result { () throws(PackageLoadError) in
                    try openForeign(files, report: &staged, progress: progress)
                }
            }
            return Outcome(file: file, info: staged.info, result: result)
        }
        report.info = outcome.info
        switch outcome.result {
        case .success(let package):
            report.accept(package)
            if !fresh {
                if outcome.file != file { report.duplicateOf = outcome.file }
                return report
            }
            logger.info(
                "loaded package",
                metadata: [
                    "package": "\(package.info.name)", "version": "\(package.info.version)",
                    "sha256": "\(sha256)", "file": "\(file)",
                ]
            )
            return report
        case .failure(let error):
            if fresh { logger.warning("rejected package", metadata: ["file": "\(file)", "error": "\(error)"]) }
            return report.rejected(error)
        }
    }

    /// The outcome for `key` (a content hash, or an embedded package's identity): the earlier one; or, while another
    /// thread loads it, that one once it is done; or the one `load` makes, run here. `fresh` tells the caller that
    /// `load` ran. Package code runs in `load` outside the loader's lock, so a package whose init hangs holds up
    /// only loads of the same content, never the others.
    private func once(_ key: String, load: () -> Outcome) -> (outcome: Outcome, fresh: Bool) {
        enum Step {
            case done(Outcome)
            case wait(InFlight)
            case run(InFlight)
        }
        let step: Step = loaded.withLock { entries in
            switch entries[key] {
            case .done(let outcome)?: return .done(outcome)
            case .loading(let inFlight)?: return .wait(inFlight)
            case nil:
                let inFlight = InFlight()
                inFlight.finished.enter()
                entries[key] = .loading(inFlight)
                return .run(inFlight)
            }
        }
        switch step {
        case .done(let outcome):
            return (outcome, false)
        case .wait(let inFlight):
            inFlight.finished.wait()
            return (inFlight.outcome.withLock { $0! }, false)
        case .run(let inFlight):
            let outcome = load()
            inFlight.outcome.withLock { $0 = outcome }
            loaded.withLock { $0[key] = .done(outcome) }
            inFlight.finished.leave()
            return (outcome, true)
        }
    }

    /// A file that passed every check that runs none of its code.
    struct Candidate {
        var report: PackageReport
        var sha256: String
        var content: Content

        enum Content {
            /// A workflow package: its bytes and ELF structure.
            case image(bytes: [UInt8], image: ELFImage)
            /// A manifest over an existing shared library.
            case foreign(ForeignFiles)
        }
    }

    enum Inspection {
        case rejected(PackageReport)
        case candidate(Candidate)
    }

    /// The stages that run none of the package's code: read the file, check its ELF structure, hash it, find the
    /// entry points, compare a Swift package's toolchain tag; for a manifest, read it and its library (see
    /// ``ForeignFiles``). Safe on any file.
    static func inspect(file: String, progress: (PackageLoadError.Stage) -> Void = { _ in }) -> Inspection {
        var report = PackageReport(file: file)
        if ForeignFiles.isManifest(file) {
            do throws(PackageLoadError) {
                let files = try ForeignFiles.read(file, report: &report, progress: progress)
                return .candidate(Candidate(report: report, sha256: files.sha256, content: .foreign(files)))
            } catch {
                return .rejected(report.rejected(error))
            }
        }
        progress(.read)
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(file, limit: maximumPackageBytes)
        } catch {
            return .rejected(report.rejected(PackageLoadError(.read, "\(error)")))
        }
        let sha256 = SHA256.hex(bytes)
        report.sha256 = sha256

        progress(.elf)
        let image: ELFImage
        switch bytes.withUnsafeBytes({ buffer in Result { () throws(ELFError) in try ELFImage.inspect(buffer) } }) {
        case .success(let inspected): image = inspected
        case .failure(let error): return .rejected(report.rejected(PackageLoadError(.elf, error.reason)))
        }

        progress(.symbols)
        let missing = [CLOACINA_INFO_SYMBOL, CLOACINA_INIT_SYMBOL].filter { !image.exportedSymbols.contains($0) }
        guard missing.isEmpty else {
            let names = missing.joined(separator: " and ")
            return .rejected(
                report.rejected(PackageLoadError(.symbols, "does not export \(names): not a Cloacina workflow package"))
            )
        }

        progress(.toolchain)
        if image.containsSwiftCode {
            guard let tag = image.toolchainTag else {
                return .rejected(
                    report.rejected(
                        PackageLoadError(
                            .toolchain,
                            "the package contains Swift code but no toolchain tag; build it with CloacinaSDK"
                        )
                    )
                )
            }
            guard tag == hostToolchain else {
                return .rejected(report.rejected(toolchainMismatch(tag)))
            }
        }
        return .candidate(Candidate(report: report, sha256: sha256, content: .image(bytes: bytes, image: image)))
    }

    /// Registers a package compiled into the host program (a CloacinaSDK `WorkflowPackage`), through the same
    /// stages as a package file after `dlopen`: info, init, validation. The report's file reads
    /// `embedded:<package name>`; the package has no SHA-256. Registering the same package object again returns the
    /// first result.
    public func load(embedded package: WorkflowPackage) -> PackageReport {
        let key = "embedded:\(ObjectIdentifier(package).hashValue)"
        var report = PackageReport(file: "embedded:\(package.name)")
        let (outcome, _) = once(key) {
            var staged = report
            let result: Result<LoadedPackage, PackageLoadError>
            do throws(PackageLoadError) {
                let (info, registered) = try register(
                    describe: { package.descriptor },
                    initialize: { package.initialize(host: $0, registrar: $1) },
                    containsSwiftCode: true,
                    report: &staged,
                    progress: { _ in }
                )
                result = .success(
                    LoadedPackage(
                        info: info,
                        sha256: nil,
                        file: nil,
                        imagePath: nil,
                        workflows: registered.workflows,
                        entryPoints: registered.entryPoints
                    )
                )
            } catch {
                result = .failure(error)
            }
            return Outcome(file: staged.file, info: staged.info, result: result)
        }
        report.info = outcome.info
        switch outcome.result {
        case .success(let loadedPackage):
            report.accept(loadedPackage)
            return report
        case .failure(let error):
            return report.rejected(error)
        }
    }

    /// Registers a package from a loading probe's verified report without loading it here: copies the file into
    /// the cache (after checking its content still has the report's SHA-256) and returns a report whose
    /// ``PackageReport/package`` has no code in this process (``LoadedPackage/runsInThisProcess`` is false). No
    /// code of the package runs. The same content registers once; later reports get the first result.
    func register(probed report: PackageReport) -> PackageReport {
        guard report.isLoaded, let sha256 = report.sha256, let info = report.info else { return report }
        let (outcome, fresh) = once("probed:\(sha256)") {
            let result: Result<LoadedPackage, PackageLoadError>
            do throws(PackageLoadError) {
                // The bytes are read and hashed again (the probe judged them); nothing else is checked twice.
                let changed = PackageLoadError(
                    .read,
                    "the file changed after it was probed; it is loaded again on change"
                )
                let imagePath: String
                if ForeignFiles.isManifest(report.file) {
                    let files = try ForeignFiles.identity(of: report.file)
                    guard files.sha256 == sha256 else { throw changed }
                    imagePath = try installForeign(
                        manifestPath: report.file,
                        manifest: files.manifest,
                        library: files.libraryName.map { ($0, files.library ?? []) },
                        sha256: sha256
                    )
                } else {
                    let bytes: [UInt8]
                    do {
                        bytes = try FileSystem.readFile(report.file, limit: Self.maximumPackageBytes)
                    } catch {
                        throw PackageLoadError(.read, "\(error)")
                    }
                    guard SHA256.hex(bytes) == sha256 else { throw changed }
                    imagePath = try cache.install(bytes, sha256: sha256)
                    if cache.durable == .deferred { noteUnsynced([imagePath]) }
                }
                result = .success(
                    LoadedPackage(
                        info: info,
                        sha256: sha256,
                        file: report.file,
                        imagePath: imagePath,
                        workflows: report.workflows,
                        entryPoints: nil
                    )
                )
            } catch {
                result = .failure(error)
            }
            return Outcome(file: report.file, info: info, result: result)
        }
        var registered = report
        switch outcome.result {
        case .success(let package):
            registered.accept(package)
            if !fresh && outcome.file != report.file { registered.duplicateOf = outcome.file }
            if fresh {
                logger.info(
                    "registered package from its loading probe (its code runs in worker processes only)",
                    metadata: [
                        "package": "\(info.name)", "version": "\(info.version)", "sha256": "\(sha256)",
                        "file": "\(report.file)",
                    ]
                )
            }
            return registered
        case .failure(let error):
            return report.rejected(error)
        }
    }

    // MARK: Stages that run package code

    private func open(
        bytes: [UInt8],
        sha256: String,
        file: String,
        image: ELFImage,
        report: inout PackageReport,
        progress: (PackageLoadError.Stage) -> Void
    ) -> Result<LoadedPackage, PackageLoadError> {
        do throws(PackageLoadError) {
            progress(.cache)
            let imagePath = try cache.install(bytes, sha256: sha256)
            if cache.durable == .deferred { unsynced.withLock { $0.append(imagePath) } }

            progress(.dlopen)
            let library = try DynamicLibrary.open(imagePath)
            guard let describe = library.function(CLOACINA_INFO_SYMBOL),
                let initialize = library.function(CLOACINA_INIT_SYMBOL)
            else {
                throw PackageLoadError(.symbols, "the entry points cannot be resolved after loading")
            }
            let describeFunction = unsafeBitCast(describe, to: cloacina_package_info_fn.self)
            let initializeFunction = unsafeBitCast(initialize, to: cloacina_package_init_fn.self)
            let (info, staged) = try register(
                describe: { describeFunction() },
                initialize: { initializeFunction($0, $1) },
                containsSwiftCode: image.containsSwiftCode,
                report: &report,
                progress: progress
            )
            return .success(
                LoadedPackage(
                    info: info,
                    sha256: sha256,
                    file: file,
                    imagePath: imagePath,
                    workflows: staged.workflows,
                    entryPoints: staged.entryPoints
                )
            )
        } catch {
            return .failure(error)
        }
    }

    /// The stages every package goes through, loaded from a file or compiled into the host: read and check its
    /// info, run its init into a staging registrar, validate what it registered.
    private func register(
        describe: () -> UnsafePointer<cloacina_package_descriptor>?,
        initialize: (UnsafePointer<cloacina_host_api>, OpaquePointer) -> Int32,
        containsSwiftCode: Bool,
        report: inout PackageReport,
        progress: (PackageLoadError.Stage) -> Void
    ) throws(PackageLoadError) -> (PackageInfo, PackageRegistrar.Staged) {
        progress(.info)
        let info = try readInfo(describe, containsSwiftCode: containsSwiftCode)
        report.info = info

        progress(.initialization)
        let registrar = try runInit(initialize, info: info)

        progress(.validation)
        let staged = registrar.staged()
        try Self.validate(staged.workflows)
        return (info, staged)
    }

    /// The validation stage: a package registers at least one workflow, and every workflow's graph is valid.
    static func validate(_ workflows: [WorkflowDefinition]) throws(PackageLoadError) {
        guard !workflows.isEmpty else {
            throw PackageLoadError(.validation, "the package registered no workflows")
        }
        var problems: [String] = []
        for workflow in workflows {
            do throws(DefinitionError) {
                try workflow.validate()
            } catch {
                problems.append(error.message)
            }
        }
        guard problems.isEmpty else {
            throw PackageLoadError(.validation, problems.joined(separator: "; "))
        }
    }

    private func readInfo(
        _ describe: () -> UnsafePointer<cloacina_package_descriptor>?,
        containsSwiftCode: Bool
    ) throws(PackageLoadError) -> PackageInfo {
        guard let descriptor = describe() else {
            let hint = containsSwiftCode ? " (a Swift package must define cloacina_swift_package; see CloacinaSDK)" : ""
            throw PackageLoadError(.info, "cloacina_package_info returned NULL\(hint)")
        }
        let raw = UnsafeRawPointer(descriptor)
        let size = raw.load(as: UInt32.self)
        guard size >= 8 else {
            throw PackageLoadError(.info, "the descriptor's struct_size (\(size)) is too small to hold a version")
        }
        let major = Int(raw.load(fromByteOffset: 4, as: UInt16.self))
        let minor = Int(raw.load(fromByteOffset: 6, as: UInt16.self))
        let host = "\(CLOACINA_ABI_MAJOR).\(CLOACINA_ABI_MINOR)"
        guard major == Int(CLOACINA_ABI_MAJOR) else {
            throw PackageLoadError(
                .info,
                "ABI major version mismatch: the package was built for ABI \(major).\(minor), this host implements \(host)"
            )
        }
        guard minor <= Int(CLOACINA_ABI_MINOR) else {
            throw PackageLoadError(
                .info,
                "the package needs ABI \(major).\(minor), newer than this host's \(host); upgrade the host"
            )
        }
        guard size >= MemoryLayout<cloacina_package_descriptor>.size else {
            throw PackageLoadError(
                .info,
                "the descriptor's struct_size (\(size)) is smaller than ABI 1.0's \(MemoryLayout<cloacina_package_descriptor>.size) bytes"
            )
        }
        let fields = descriptor.pointee
        let known = UInt64(CLOACINA_PACKAGE_FLAG_SWIFT)
        guard fields.flags & ~known == 0 else {
            throw PackageLoadError(.info, "unknown flag bits 0x\(String(fields.flags & ~known, radix: 16))")
        }
        guard let namePointer = fields.name, let name = String(validatingCString: namePointer) else {
            throw PackageLoadError(.info, "the package name is missing or not valid UTF-8")
        }
        do {
            try NameRule.validate(name, as: "package name")
        } catch {
            throw PackageLoadError(.info, error.message)
        }
        guard let versionPointer = fields.version, let version = String(validatingCString: versionPointer),
            !version.isEmpty, version.utf8.count <= 128, !version.unicodeScalars.contains(where: { $0.value < 0x20 })
        else {
            throw PackageLoadError(.info, "the package version must be 1 to 128 bytes of printable UTF-8")
        }
        let isSwift = containsSwiftCode || fields.flags & known != 0
        var toolchain: String?
        if let pointer = fields.toolchain {
            toolchain = String(validatingCString: pointer)
        }
        if isSwift {
            guard let tag = toolchain else {
                throw PackageLoadError(.toolchain, "the Swift package reports no toolchain tag")
            }
            guard tag == Self.hostToolchain else { throw Self.toolchainMismatch(tag) }
        }
        return PackageInfo(
            name: name,
            version: version,
            abiMajor: major,
            abiMinor: minor,
            toolchain: toolchain,
            isSwift: isSwift
        )
    }

    private func runInit(
        _ initialize: (UnsafePointer<cloacina_host_api>, OpaquePointer) -> Int32,
        info: PackageInfo
    ) throws(PackageLoadError) -> PackageRegistrar {
        let registrar = PackageRegistrar()
        // The registrar stays alive for ever: a package that kept the pointer and calls it after init must find an
        // object that rejects the call, not freed memory.
        let handle = HostAPI.handle(for: registrar)
        var packageLogger = logger
        packageLogger[metadataKey: "package"] = "\(info.name)"
        let status = Self.$initLogger.withValue(packageLogger) {
            initialize(HostAPI.table, handle)
        }
        registrar.close()
        var details = registrar.reportedErrors
        if !registrar.problems.isEmpty {
            details.append("rejected registration: " + registrar.problems.joined(separator: "; "))
        }
        guard status == CLOACINA_INIT_OK else {
            let suffix = details.isEmpty ? "" : ": " + details.joined(separator: "; ")
            throw PackageLoadError(.initialization, "cloacina_package_init returned \(status)\(suffix)")
        }
        guard registrar.problems.isEmpty else {
            throw PackageLoadError(.initialization, details.joined(separator: "; "))
        }
        return registrar
    }

    private static func toolchainMismatch(_ tag: String) -> PackageLoadError {
        PackageLoadError(
            .toolchain,
            "the package was built with toolchain \"\(tag)\", this host with \"\(hostToolchain)\" (Swift \(hostSwiftVersion)); "
                + "Swift has no stable ABI on Linux: rebuild the package with the host's toolchain"
        )
    }
}
