internal import CloacinaModel
internal import CloacinaStorage
internal import Synchronization

/// The workflows runners can start, and every package they came from.
///
/// The *current* packages provide the startable workflows: a workflow name belongs to one of them, a package name
/// to one content. Packages that stop being current (replaced by a reload, or removed) are *retained*, because
/// executions pinned to them must still find their code and plans. A registry can be private to one runner or
/// shared by every tenant's runner of a host (``DefaultRunner/Configuration/registry``), in which case
/// ``replace(with:)`` switches all of them to a new generation at once. Plans are built once per package and
/// workflow and shared by every execution.
public final class WorkflowRegistry: Sendable {
    struct Entry: Sendable {
        let plan: ExecutionPlan
        let package: LoadedPackage
    }

    private struct State {
        var workflows: [String: Entry] = [:]
        var current: [LoadedPackage] = []
        var retained: [LoadedPackage] = []
        var plans: [String: ExecutionPlan] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Makes the workflows of `package` startable beside the current ones. Throws a conflict when a current package
    /// has the same name with different content, or one of its workflow names.
    public func register(_ package: LoadedPackage) throws(CloacinaError) {
        try state.withLock { state throws(CloacinaError) in
            if state.current.contains(where: { $0 === package }) { return }
            if let other = state.current.first(where: { $0.info.name == package.info.name }) {
                throw CloacinaError(
                    .conflict,
                    "package \"\(package.info.name)\" is already registered (version \(other.info.version)\(Self.origin(of: other)))"
                )
            }
            for workflow in package.workflows {
                if let owner = state.workflows[workflow.name] {
                    throw CloacinaError(
                        .conflict,
                        "workflow \"\(workflow.name)\" is already provided by package \"\(owner.package.info.name)\""
                    )
                }
            }
            let entries = try Self.entries(of: package)
            for entry in entries { Self.add(entry, to: &state) }
            state.current.append(package)
            if !state.retained.contains(where: { $0 === package }) { state.retained.append(package) }
        }
    }

    /// Makes exactly `packages` current, atomically: new executions start on them from now on, while executions
    /// already running keep the package they are pinned to. Throws, changing nothing, when two of them share a
    /// package or workflow name.
    public func replace(with packages: [LoadedPackage]) throws(CloacinaError) {
        var names: [String: String] = [:]
        var workflows: [String: String] = [:]
        var entries: [Entry] = []
        for package in packages {
            if let other = names.updateValue(package.info.version, forKey: package.info.name) {
                throw CloacinaError(
                    .conflict,
                    "package \"\(package.info.name)\" appears twice (versions \(other) and \(package.info.version))"
                )
            }
            for workflow in package.workflows {
                if let owner = workflows.updateValue(package.info.name, forKey: workflow.name) {
                    throw CloacinaError(
                        .conflict,
                        "workflow \"\(workflow.name)\" is provided by packages \"\(owner)\" and \"\(package.info.name)\""
                    )
                }
            }
            entries += try Self.entries(of: package)
        }
        state.withLock { state in
            state.workflows.removeAll()
            for entry in entries { Self.add(entry, to: &state) }
            state.current = packages
            for package in packages where !state.retained.contains(where: { $0 === package }) {
                state.retained.append(package)
            }
        }
    }

    /// The packages providing the startable workflows.
    public var currentPackages: [LoadedPackage] { state.withLock { $0.current } }

    /// The startable workflow named `name`.
    func workflow(named name: String) -> Entry? {
        state.withLock { $0.workflows[name] }
    }

    /// Every startable workflow, by name.
    var entries: [Entry] {
        state.withLock { state in state.workflows.values.sorted { $0.plan.workflow.name < $1.plan.workflow.name } }
    }

    /// A package, current or retained, matching `reference`: by SHA-256, or by name for packages compiled into the
    /// host.
    func package(matching reference: PackageReference) -> LoadedPackage? {
        state.withLock { state in
            state.retained.last { package in
                if let sha256 = reference.sha256 { return package.sha256 == sha256 }
                return package.sha256 == nil && package.info.name == reference.name
            }
        }
    }

    /// The plan of `workflow` in `package`, built on first use.
    func plan(for package: LoadedPackage, workflow: String) throws(CloacinaError) -> ExecutionPlan {
        let key = Self.key(package, workflow)
        if let plan = state.withLock({ $0.plans[key] }) { return plan }
        guard let definition = package.workflow(named: workflow) else {
            throw CloacinaError(.unknownWorkflow, "package \"\(package.info.name)\" has no workflow \"\(workflow)\"")
        }
        let plan: ExecutionPlan
        do {
            plan = try ExecutionPlan(definition)
        } catch {
            throw CloacinaError(.invalidInput, error.message)
        }
        state.withLock { $0.plans[key] = plan }
        return plan
    }

    private static func entries(of package: LoadedPackage) throws(CloacinaError) -> [Entry] {
        var entries: [Entry] = []
        for workflow in package.workflows {
            do throws(DefinitionError) {
                entries.append(Entry(plan: try ExecutionPlan(workflow), package: package))
            } catch {
                throw CloacinaError(.invalidInput, error.message)
            }
        }
        return entries
    }

    private static func add(_ entry: Entry, to state: inout State) {
        state.workflows[entry.plan.workflow.name] = entry
        let key = key(entry.package, entry.plan.workflow.name)
        if state.plans[key] == nil { state.plans[key] = entry.plan }
    }

    private static func key(_ package: LoadedPackage, _ workflow: String) -> String {
        "\(package.sha256 ?? "embedded:" + package.info.name)|\(workflow)"
    }

    private static func origin(of package: LoadedPackage) -> String {
        package.file.map { " from \($0)" } ?? ", compiled into the host"
    }
}
