internal import CloacinaStorage
internal import Synchronization

/// The workflows a runner can start, and the packages they come from.
///
/// A workflow name belongs to one package; a package name to one content. Plans are built once per package and
/// workflow and shared by every execution. Packages that are not registered but that an execution is pinned to
/// (an older version, found in the package cache) can still supply plans through ``plan(for:workflow:)``.
final class WorkflowRegistry: Sendable {
    struct Entry: Sendable {
        let plan: ExecutionPlan
        let package: LoadedPackage
    }

    private struct State {
        var workflows: [String: Entry] = [:]
        var packages: [LoadedPackage] = []
        var plans: [String: ExecutionPlan] = [:]
    }

    private let state = Mutex(State())

    /// Makes the workflows of `package` startable. Throws a conflict when another package holds the package name
    /// with different content, or one of its workflow names.
    func register(_ package: LoadedPackage) throws(CloacinaError) {
        try state.withLock { state throws(CloacinaError) in
            if state.packages.contains(where: { $0 === package }) { return }
            if let other = state.packages.first(where: { $0.info.name == package.info.name }) {
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
            var entries: [Entry] = []
            for workflow in package.workflows {
                do throws(DefinitionError) {
                    entries.append(Entry(plan: try ExecutionPlan(workflow), package: package))
                } catch {
                    throw CloacinaError(.invalidInput, error.message)
                }
            }
            for entry in entries {
                state.workflows[entry.plan.workflow.name] = entry
                state.plans[Self.key(entry.package, entry.plan.workflow.name)] = entry.plan
            }
            state.packages.append(package)
        }
    }

    /// The registered workflow named `name`.
    func workflow(named name: String) -> Entry? {
        state.withLock { $0.workflows[name] }
    }

    /// Every registered workflow, by name.
    var entries: [Entry] {
        state.withLock { state in state.workflows.values.sorted { $0.plan.workflow.name < $1.plan.workflow.name } }
    }

    /// A registered package matching `reference`: by SHA-256, or by name for packages compiled into the host.
    func package(matching reference: PackageReference) -> LoadedPackage? {
        state.withLock { state in
            state.packages.first { package in
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

    private static func key(_ package: LoadedPackage, _ workflow: String) -> String {
        "\(package.sha256 ?? "embedded:" + package.info.name)|\(workflow)"
    }

    private static func origin(of package: LoadedPackage) -> String {
        package.file.map { " from \($0)" } ?? ", compiled into the host"
    }
}
