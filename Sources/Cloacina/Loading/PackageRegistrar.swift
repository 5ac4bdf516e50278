internal import CCloacinaABI
internal import CloacinaJSON
internal import CloacinaModel
internal import CloacinaNative
internal import CloacinaSchedule

#if canImport(Glibc)
internal import Glibc
#endif

/// The staging area behind a `cloacina_registrar *` while a package's init runs.
///
/// It copies and checks everything the package registers, remembers every problem, and hands over workflows only
/// when nothing was wrong. It is used on the init thread only, and stops accepting registrations once init returns.
final class PackageRegistrar {
    private(set) var problems: [String] = []
    private(set) var reportedErrors: [String] = []
    private var workflows: [(name: String, description: String?)] = []
    private var tasks: [String: [TaskDefinition]] = [:]
    private var entryPoints: [String: [String: TaskEntryPoint]] = [:]
    /// Default schedules by workflow, in registration order.
    private var schedules: [String: [ScheduleDefault]] = [:]
    private var closed = false

    /// The longest time limit a task may ask for.
    static let maximumTimeout = Duration.seconds(7 * 24 * 3600)
    /// The most dependencies one task may list.
    static let maximumDependencies = 100_000

    /// Stops accepting registrations; later calls are rejected.
    func close() {
        closed = true
    }

    /// What a package registered.
    struct Staged {
        /// Workflows in registration order.
        var workflows: [WorkflowDefinition]
        /// Task code by workflow name and task id.
        var entryPoints: [String: [String: TaskEntryPoint]]
    }

    /// The registered workflows and their task code.
    func staged() -> Staged {
        let definitions = workflows.map { workflow in
            WorkflowDefinition(
                name: workflow.name,
                description: workflow.description,
                tasks: tasks[workflow.name] ?? [],
                schedules: schedules[workflow.name] ?? []
            )
        }
        return Staged(workflows: definitions, entryPoints: entryPoints)
    }

    func reportError(_ message: UnsafePointer<CChar>?) {
        guard !closed else { return }
        reportedErrors.append(message.map { Self.text($0) } ?? "(no message)")
    }

    func registerWorkflow(_ def: UnsafePointer<cloacina_workflow_def>?) -> Int32 {
        guard let def = checkedStruct(def, "register_workflow", minimumSize: MemoryLayout<cloacina_workflow_def>.size)
        else { return CLOACINA_REGISTER_REJECTED }
        guard let name = requiredName(def.pointee.name, "workflow name", in: "register_workflow") else {
            return CLOACINA_REGISTER_REJECTED
        }
        guard !workflows.contains(where: { $0.name == name }) else {
            return reject("workflow \"\(name)\" is registered twice")
        }
        guard let description = optionalText(def.pointee.description, "description of workflow \"\(name)\"") else {
            return CLOACINA_REGISTER_REJECTED
        }
        workflows.append((name, description))
        tasks[name] = []
        return CLOACINA_REGISTER_OK
    }

    func registerTask(_ def: UnsafePointer<cloacina_task_def>?) -> Int32 {
        guard let def = checkedStruct(def, "register_task", minimumSize: MemoryLayout<cloacina_task_def>.size) else {
            return CLOACINA_REGISTER_REJECTED
        }
        let task = def.pointee
        guard
            let (workflow, definition) = commonFields(TaskFields(task), in: "register_task")
        else { return CLOACINA_REGISTER_REJECTED }
        guard let function = task.function else {
            return reject("task \"\(definition.id)\" of workflow \"\(workflow)\" has no function")
        }
        tasks[workflow, default: []].append(definition)
        entryPoints[workflow, default: [:]][definition.id] = TaskEntryPoint(
            function: function,
            userData: task.user_data
        )
        return CLOACINA_REGISTER_OK
    }

    /// ABI 1.1: a task that is a plain C function of the signature it declares, called through libffi. The
    /// signature, the argument keys, the result key and the result check are checked whole here, so a task that
    /// registered can fail only on its input.
    func registerNativeTask(_ def: UnsafePointer<cloacina_native_task_def>?) -> Int32 {
        guard
            let def = checkedStruct(
                def,
                "register_native_task",
                minimumSize: MemoryLayout<cloacina_native_task_def>.size
            )
        else { return CLOACINA_REGISTER_REJECTED }
        let task = def.pointee
        guard
            let (workflow, common) = commonFields(TaskFields(task), in: "register_native_task")
        else { return CLOACINA_REGISTER_REJECTED }
        let label = "task \"\(common.id)\" of workflow \"\(workflow)\""
        guard let function = task.function else { return reject("\(label) has no function") }
        guard let signaturePointer = task.signature else { return reject("\(label) has no signature") }
        guard let signatureText = String(validatingCString: signaturePointer) else {
            return reject("\(label): the signature is not valid UTF-8")
        }
        guard task.argument_count <= UInt32(NativeSignature.maximumParameters) else {
            return reject(
                "\(label): argument_count \(task.argument_count) is over \(NativeSignature.maximumParameters)"
            )
        }
        var argumentTexts: [String] = []
        if task.argument_count > 0 {
            guard let keys = task.argument_keys else {
                return reject("\(label) has argument_count \(task.argument_count) but no argument_keys array")
            }
            for index in 0..<Int(task.argument_count) {
                guard let key = keys[index], let text = String(validatingCString: key) else {
                    return reject("\(label): argument key \(index + 1) is NULL or not valid UTF-8")
                }
                argumentTexts.append(text)
            }
        }
        guard let resultText = optionalText(task.result_key, "result key of \(label)") else {
            return CLOACINA_REGISTER_REJECTED
        }
        let conditions: [UInt32: NativeBinding.FailureCondition?] = [
            UInt32(CLOACINA_NATIVE_FAIL_NONE): nil, UInt32(CLOACINA_NATIVE_FAIL_NEGATIVE): .negative,
            UInt32(CLOACINA_NATIVE_FAIL_ZERO): .zero, UInt32(CLOACINA_NATIVE_FAIL_NONZERO): .nonzero,
            UInt32(CLOACINA_NATIVE_FAIL_NULL): .null,
        ]
        guard let failIf = conditions[task.fail_if] else {
            return reject("\(label): unknown fail_if \(task.fail_if) (CLOACINA_NATIVE_FAIL_*)")
        }
        let known = UInt32(CLOACINA_NATIVE_READ_ERRNO | CLOACINA_NATIVE_RETRYABLE)
        guard task.flags & ~known == 0 else {
            return reject("\(label): unknown flag bits 0x\(String(task.flags & ~known, radix: 16))")
        }
        let native: NativeFunction
        do throws(NativeError) {
            let binding = try NativeBinding(
                signature: try NativeSignature(parsing: signatureText),
                arguments: try argumentTexts.map { text throws(NativeError) in try NativeBinding.Argument(parsing: text)
                },
                result: resultText,
                failIf: failIf,
                readsErrno: task.flags & UInt32(CLOACINA_NATIVE_READ_ERRNO) != 0,
                retryable: task.flags & UInt32(CLOACINA_NATIVE_RETRYABLE) != 0,
                freesResult: task.free_result != nil
            )
            native = try NativeFunction(
                binding: binding,
                function: unsafeBitCast(function, to: UnsafeMutableRawPointer.self),
                release: task.free_result.map { unsafeBitCast($0, to: UnsafeMutableRawPointer.self) }
            )
        } catch {
            return reject("\(label): \(error.message)")
        }
        var definition = common
        definition.native = native.binding.description(symbol: nil)
        tasks[workflow, default: []].append(definition)
        entryPoints[workflow, default: [:]][definition.id] = .native(native)
        return CLOACINA_REGISTER_OK
    }

    /// The members `cloacina_task_def` and `cloacina_native_task_def` share.
    private struct TaskFields {
        var workflow: UnsafePointer<CChar>?
        var id: UnsafePointer<CChar>?
        var dependencies: UnsafePointer<UnsafePointer<CChar>?>?
        var dependencyCount: UInt32
        var retry: UnsafePointer<cloacina_retry_policy>?
        var timeoutMilliseconds: UInt64
        var triggerRule: UnsafePointer<CChar>?
        var description: UnsafePointer<CChar>?

        init(_ task: cloacina_task_def) {
            self.init(
                task.workflow,
                task.id,
                task.dependencies,
                task.dependency_count,
                task.retry,
                task.timeout_ms,
                task.trigger_rule_json,
                task.description
            )
        }

        init(_ task: cloacina_native_task_def) {
            self.init(
                task.workflow,
                task.id,
                task.dependencies,
                task.dependency_count,
                task.retry,
                task.timeout_ms,
                task.trigger_rule_json,
                task.description
            )
        }

        private init(
            _ workflow: UnsafePointer<CChar>?,
            _ id: UnsafePointer<CChar>?,
            _ dependencies: UnsafePointer<UnsafePointer<CChar>?>?,
            _ dependencyCount: UInt32,
            _ retry: UnsafePointer<cloacina_retry_policy>?,
            _ timeoutMilliseconds: UInt64,
            _ triggerRule: UnsafePointer<CChar>?,
            _ description: UnsafePointer<CChar>?
        ) {
            (self.workflow, self.id, self.dependencies, self.dependencyCount) = (
                workflow, id, dependencies, dependencyCount
            )
            (self.retry, self.timeoutMilliseconds) = (retry, timeoutMilliseconds)
            (self.triggerRule, self.description) = (triggerRule, description)
        }
    }

    /// Checks what every task registration carries (its workflow registered, its id new, dependencies, retry
    /// policy, time limit, trigger rule, description) and returns the workflow and the definition; nil (with the
    /// problem noted) when anything is wrong.
    private func commonFields(_ task: TaskFields, in function: String) -> (String, TaskDefinition)? {
        guard let workflow = requiredName(task.workflow, "workflow name", in: function) else { return nil }
        guard tasks[workflow] != nil else {
            _ = reject("\(function) names workflow \"\(workflow)\", which this package has not registered")
            return nil
        }
        guard let id = requiredName(task.id, "task id", in: "\(function) for workflow \"\(workflow)\"") else {
            return nil
        }
        let label = "task \"\(id)\" of workflow \"\(workflow)\""
        // Every registered task has an entry point: a dictionary lookup, not a scan, so large workflows load fast.
        guard entryPoints[workflow]?[id] == nil else {
            _ = reject("duplicate task id \"\(id)\" in workflow \"\(workflow)\"")
            return nil
        }

        var dependencies: [String] = []
        if task.dependencyCount > 0 {
            guard Int(task.dependencyCount) <= Self.maximumDependencies else {
                _ = reject(
                    "\(label) lists \(task.dependencyCount) dependencies, the limit is \(Self.maximumDependencies)"
                )
                return nil
            }
            guard let list = task.dependencies else {
                _ = reject("\(label) has dependency_count \(task.dependencyCount) but no dependencies array")
                return nil
            }
            for index in 0..<Int(task.dependencyCount) {
                guard let dependency = requiredName(list[index], "dependency", in: label) else { return nil }
                dependencies.append(dependency)
            }
        }

        var retry = RetryPolicy.none
        if let pointer = task.retry {
            let size = UnsafeRawPointer(pointer).load(as: UInt32.self)
            guard size >= MemoryLayout<cloacina_retry_policy>.size else {
                _ = reject(
                    "\(label): cloacina_retry_policy.struct_size is \(size), expected at least \(MemoryLayout<cloacina_retry_policy>.size)"
                )
                return nil
            }
            do {
                retry = try RetryPolicy(abi: pointer.pointee)
            } catch {
                _ = reject("\(label): \(error.message)")
                return nil
            }
        }

        var timeout: Duration?
        if task.timeoutMilliseconds > 0 {
            guard task.timeoutMilliseconds <= UInt64(Self.maximumTimeout.inMilliseconds) else {
                _ = reject("\(label): timeout of \(task.timeoutMilliseconds) ms exceeds the 7-day limit")
                return nil
            }
            timeout = .milliseconds(Int64(task.timeoutMilliseconds))
        }

        var trigger: TriggerRule?
        if let json = task.triggerRule {
            guard let text = String(validatingCString: json) else {
                _ = reject("\(label): the trigger rule is not valid UTF-8")
                return nil
            }
            do {
                trigger = try TriggerRule(jsonText: text)
            } catch {
                _ = reject("\(label): \(error.message)")
                return nil
            }
        }

        guard let description = optionalText(task.description, "description of \(label)") else { return nil }
        return (
            workflow,
            TaskDefinition(
                id: id,
                dependencies: dependencies,
                retry: retry,
                timeout: timeout,
                trigger: trigger,
                description: description
            )
        )
    }

    /// ABI 1.1: a default schedule of a workflow registered earlier, checked as a tenant's own would be (name,
    /// cron expression in its zone, input object, policies, cap).
    func registerSchedule(_ def: UnsafePointer<cloacina_schedule_def>?) -> Int32 {
        guard
            let def = checkedStruct(
                def,
                "register_schedule",
                minimumSize: MemoryLayout<cloacina_schedule_def>.size
            )
        else { return CLOACINA_REGISTER_REJECTED }
        let schedule = def.pointee
        guard let workflow = requiredName(schedule.workflow, "workflow name", in: "register_schedule") else {
            return CLOACINA_REGISTER_REJECTED
        }
        guard tasks[workflow] != nil else {
            return reject("register_schedule names workflow \"\(workflow)\", which this package has not registered")
        }
        guard let id = requiredName(schedule.id, "schedule id", in: "register_schedule for workflow \"\(workflow)\"")
        else { return CLOACINA_REGISTER_REJECTED }
        let label = "schedule \"\(id)\" of workflow \"\(workflow)\""
        guard !schedules.values.contains(where: { $0.contains { $0.id == id } }) else {
            return reject("\(label) is registered twice")
        }
        guard let cronText = optionalText(schedule.cron, "cron expression of \(label)") else {
            return CLOACINA_REGISTER_REJECTED
        }
        guard let cron = cronText else { return reject("\(label) has no cron expression") }
        guard let zoneText = optionalText(schedule.time_zone, "time zone of \(label)"),
            let inputText = optionalText(schedule.input_json, "input of \(label)"),
            let catchUpText = optionalText(schedule.catch_up, "catch-up policy of \(label)"),
            let overlapText = optionalText(schedule.overlap, "overlap policy of \(label)")
        else { return CLOACINA_REGISTER_REJECTED }
        let zone = zoneText ?? "UTC"
        do throws(ScheduleError) {
            _ = try CronSchedule(cron, timeZone: zone)
        } catch {
            return reject("\(label): \(error.message)")
        }
        let input = inputText ?? "{}"
        guard (try? JSONValue(parsing: input))?.objectValue != nil else {
            return reject("\(label): the input is not a JSON object")
        }
        let catchUp = catchUpText ?? CatchUpPolicy.defaultPolicy.rawValue
        guard CatchUpPolicy(rawValue: catchUp) != nil else {
            return reject("\(label): catch_up must be skip, all or none, not \"\(catchUp)\"")
        }
        let overlap = overlapText ?? OverlapPolicy.defaultPolicy.rawValue
        guard OverlapPolicy(rawValue: overlap) != nil else {
            return reject("\(label): overlap must be allow, skip, queue or cancel-previous, not \"\(overlap)\"")
        }
        let cap = schedule.catch_up_cap == 0 ? CatchUpPolicy.defaultCap : Int(schedule.catch_up_cap)
        guard cap <= ScheduleSpec.maximumCap else {
            return reject("\(label): catch_up_cap \(cap) is over \(ScheduleSpec.maximumCap)")
        }
        schedules[workflow, default: []].append(
            ScheduleDefault(
                id: id,
                cron: cron,
                timeZone: zone,
                input: input,
                catchUp: catchUp,
                catchUpCap: cap,
                overlap: overlap
            )
        )
        return CLOACINA_REGISTER_OK
    }

    // MARK: Registrations made by the host (foreign library manifests)

    /// A workflow declared by a manifest the host read and checked itself (names, duplicates).
    func registerWorkflow(name: String, description: String?) {
        workflows.append((name, description))
        tasks[name] = []
    }

    /// A task declared by a manifest, with the entry point the host built for it; a duplicate id or an unknown
    /// workflow is a problem, as for a package's own registration.
    func register(_ definition: TaskDefinition, of workflow: String, entryPoint: TaskEntryPoint) {
        guard !closed, tasks[workflow] != nil else {
            problems.append("task \"\(definition.id)\" names workflow \"\(workflow)\", which is not declared")
            return
        }
        guard entryPoints[workflow]?[definition.id] == nil else {
            problems.append("duplicate task id \"\(definition.id)\" in workflow \"\(workflow)\"")
            return
        }
        tasks[workflow, default: []].append(definition)
        entryPoints[workflow, default: [:]][definition.id] = entryPoint
    }

    // MARK: Checking what the package passed

    private func reject(_ message: String) -> Int32 {
        problems.append(message)
        return CLOACINA_REGISTER_REJECTED
    }

    /// The struct, if the pointer is set, registration is still open and the declared size covers version 1.0.
    private func checkedStruct<T>(
        _ pointer: UnsafePointer<T>?,
        _ function: String,
        minimumSize: Int
    ) -> UnsafePointer<T>? {
        guard !closed else {
            problems.append("\(function) was called after cloacina_package_init returned")
            return nil
        }
        guard let pointer else {
            problems.append("\(function) was called with a NULL definition")
            return nil
        }
        let size = UnsafeRawPointer(pointer).load(as: UInt32.self)
        guard size >= minimumSize else {
            problems.append("\(function): struct_size is \(size), expected at least \(minimumSize)")
            return nil
        }
        return pointer
    }

    private func requiredName(_ pointer: UnsafePointer<CChar>?, _ what: String, in context: String) -> String? {
        guard let pointer else {
            problems.append("\(context): the \(what) is NULL")
            return nil
        }
        guard let name = String(validatingCString: pointer) else {
            problems.append("\(context): the \(what) is not valid UTF-8")
            return nil
        }
        do {
            try NameRule.validate(name, as: what)
        } catch {
            problems.append("\(context): \(error.message)")
            return nil
        }
        return name
    }

    /// `.some(nil)` for NULL, `.some(text)` for valid UTF-8 of reasonable length, nil (with a problem noted) otherwise.
    private func optionalText(_ pointer: UnsafePointer<CChar>?, _ what: String) -> String?? {
        guard let pointer else { return .some(nil) }
        guard let text = String(validatingCString: pointer) else {
            problems.append("the \(what) is not valid UTF-8")
            return nil
        }
        guard text.utf8.count <= 4096 else {
            problems.append("the \(what) is longer than 4096 bytes")
            return nil
        }
        return .some(text)
    }

    /// A C string as text, replacing invalid UTF-8, for messages only.
    static func text(_ pointer: UnsafePointer<CChar>) -> String {
        String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
    }
}
