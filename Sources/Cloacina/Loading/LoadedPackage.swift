public import CloacinaStorage

/// A package that loaded and validated: its identity, its workflows, and (when it was loaded here) the code of its
/// tasks.
///
/// Two kinds, accepted alike by a ``WorkflowRegistry`` and by executions pinned to them:
///
/// - **Loaded in this process** (``PackageLoader``, or ``PackagePipeline/init(probe:loader:)``): the image is mapped
///   for the life of the process (the host never unloads code) and ``entryPoint(workflow:task:)`` returns its task
///   functions, for ``InProcessTaskInvoker``.
/// - **Known from a loading probe's report** (``PackagePipeline/init(probe:registeringWith:)``, for process
///   isolation): no code of it was mapped or run here. Its metadata (name, version, workflows) comes from a report
///   the ``PackageProbe`` verified (nonce, sender, clean exit, workflows validated, SHA-256 equal to the host's own
///   hash of the file), ``sha256`` and ``imagePath`` from the host itself: the image was copied into the host's
///   content-addressed cache from bytes the host hashed. ``runsInThisProcess`` is false and
///   ``entryPoint(workflow:task:)`` returns nil. **Contract for worker processes:** a task invoker that runs such a
///   package starts a worker (the host binary's hidden `worker` subcommand) that loads exactly ``imagePath`` (whose
///   content is ``sha256``) with an ordinary ``PackageLoader`` and calls the task there; the host never opens it.
///
/// Either kind can be used from any thread for as long as anyone holds it.
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
    /// Task code by workflow and task; nil for a package known from a probe's report.
    private let entryPoints: [String: [String: TaskEntryPoint]]?

    init(
        info: PackageInfo,
        sha256: String?,
        file: String?,
        imagePath: String?,
        workflows: [WorkflowDefinition],
        entryPoints: [String: [String: TaskEntryPoint]]?
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

    /// Whether the package's code is loaded in this process, so its tasks can be called here; false for a package
    /// registered from a loading probe's report (its tasks run in worker processes from ``imagePath``).
    public var runsInThisProcess: Bool { entryPoints != nil }

    /// The code of task `task` of workflow `workflow`; nil when there is no such task or the package's code is not
    /// loaded in this process.
    public func entryPoint(workflow: String, task: String) -> TaskEntryPoint? {
        entryPoints?[workflow]?[task]
    }

    /// The workflow named `name`.
    public func workflow(named name: String) -> WorkflowDefinition? {
        workflows.first { $0.name == name }
    }
}
