public import CloacinaStorage

/// A package that loaded and validated: its identity, its workflows, and the code of its tasks.
///
/// The image stays mapped for the life of the process (the host never unloads code), so a `LoadedPackage` can be
/// used from any thread for as long as anyone holds it.
public final class LoadedPackage: Sendable {
    public let info: PackageInfo
    /// SHA-256 of the file's bytes, the package's identity for deduplication and pinning; nil for a package
    /// compiled into the host program.
    public let sha256: String?
    /// Where the package was loaded from; nil for a package compiled into the host program.
    public let file: String?
    /// The content-addressed copy that was actually opened; nil for a package compiled into the host program.
    public let imagePath: String?
    /// Workflows in registration order, each validated.
    public let workflows: [WorkflowDefinition]
    private let entryPoints: [String: [String: TaskEntryPoint]]

    init(
        info: PackageInfo,
        sha256: String?,
        file: String?,
        imagePath: String?,
        workflows: [WorkflowDefinition],
        entryPoints: [String: [String: TaskEntryPoint]]
    ) {
        self.info = info
        self.sha256 = sha256
        self.file = file
        self.imagePath = imagePath
        self.workflows = workflows
        self.entryPoints = entryPoints
    }

    /// What executions pinned to this package record.
    public var reference: PackageReference {
        PackageReference(name: info.name, version: info.version, sha256: sha256)
    }

    /// The code of task `task` of workflow `workflow`.
    public func entryPoint(workflow: String, task: String) -> TaskEntryPoint? {
        entryPoints[workflow]?[task]
    }

    /// The workflow named `name`.
    public func workflow(named name: String) -> WorkflowDefinition? {
        workflows.first { $0.name == name }
    }
}
