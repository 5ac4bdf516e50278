/// The outcome of loading one package file: loaded with its workflows, or rejected with the stage and reason.
///
/// Reports are plain values that round-trip through JSON (``json`` and ``init(json:)``), so a load done in another
/// process reports exactly like one done here. ``package`` is set only for loads done in this process.
public struct PackageReport: Sendable {
    public var file: String
    /// SHA-256 of the file, once it was read and found to be an ELF shared object.
    public var sha256: String?
    /// The package's identity, once its info was read.
    public var info: PackageInfo?
    /// The package's workflows, when it loaded.
    public var workflows: [WorkflowDefinition] = []
    /// Why the file was rejected; nil when it loaded.
    public var error: PackageLoadError?
    /// Another file with the same content, loaded first; this one added nothing new.
    public var duplicateOf: String?
    /// The loaded package, for loads done in this process.
    public var package: LoadedPackage?

    public init(file: String) {
        self.file = file
    }

    /// Whether the file loaded.
    public var isLoaded: Bool { error == nil }

    mutating func accept(_ package: LoadedPackage) {
        self.package = package
        self.info = package.info
        self.workflows = package.workflows
        self.error = nil
    }

    func rejected(_ error: PackageLoadError) -> PackageReport {
        var copy = self
        copy.error = error
        copy.workflows = []
        copy.package = nil
        return copy
    }
}
