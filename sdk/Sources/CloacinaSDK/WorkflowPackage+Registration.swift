internal import CCloacinaABI

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

extension WorkflowPackage {
    /// Registers every workflow and task through the host API; called once, from `cloacina_package_init`.
    ///
    /// Returns `CLOACINA_INIT_OK`, or 1 after the host rejected something (the host recorded why) or the host API
    /// is too old for this SDK.
    func register(host: UnsafePointer<cloacina_host_api>, registrar: OpaquePointer) -> Int32 {
        let api = host.pointee
        guard api.struct_size >= UInt32(MemoryLayout<cloacina_host_api>.size),
            let registerWorkflow = api.register_workflow, let registerTask = api.register_task
        else {
            return 1
        }
        for workflow in workflows {
            let accepted = Self.withCString(workflow.name) { name in
                Self.withCString(workflow.description) { description in
                    var def = cloacina_workflow_def()
                    def.struct_size = UInt32(MemoryLayout<cloacina_workflow_def>.size)
                    def.name = name
                    def.description = description
                    return registerWorkflow(registrar, &def)
                }
            }
            guard accepted == CLOACINA_REGISTER_OK else { return 1 }
            for task in workflow.tasks {
                let box = TaskBox(body: task.body, host: host)
                let userData = Unmanaged.passRetained(box).toOpaque()
                let accepted = Self.withTaskDef(task, workflow: workflow.name) { def in
                    def.function = taskTrampoline
                    def.user_data = userData
                    return registerTask(registrar, &def)
                }
                guard accepted == CLOACINA_REGISTER_OK else {
                    Unmanaged<TaskBox>.fromOpaque(userData).release()
                    return 1
                }
            }
            for schedule in workflow.schedules {
                // A host before ABI 1.1 has no register_schedule (and refuses a 1.1 package before init anyway).
                guard api.abi_minor >= 1, let registerSchedule = api.register_schedule else { return 1 }
                let accepted = Self.withScheduleDef(schedule, workflow: workflow.name) { def in
                    registerSchedule(registrar, &def)
                }
                guard accepted == CLOACINA_REGISTER_OK else { return 1 }
            }
        }
        return CLOACINA_INIT_OK
    }

    /// Calls `body` with the C definition of `schedule`; every pointer in it is valid only during the call.
    private static func withScheduleDef(
        _ schedule: Schedule,
        workflow: String,
        _ body: (inout cloacina_schedule_def) -> Int32
    ) -> Int32 {
        let input = JSONValue.object(schedule.input).serializedString()
        return withCString(workflow) { workflowName in
            withCString(schedule.id) { id in
                withCString(schedule.cron) { cron in
                    withCString(schedule.timeZone) { zone in
                        withCString(input) { inputJSON in
                            withCString(schedule.catchUp.rawValue) { catchUp in
                                withCString(schedule.overlap.rawValue) { overlap in
                                    var def = cloacina_schedule_def()
                                    def.struct_size = UInt32(MemoryLayout<cloacina_schedule_def>.size)
                                    def.workflow = workflowName
                                    def.id = id
                                    def.cron = cron
                                    def.time_zone = zone
                                    def.input_json = inputJSON
                                    def.catch_up = catchUp
                                    def.overlap = overlap
                                    def.catch_up_cap = UInt32(clamping: max(schedule.catchUpCap, 1))
                                    return body(&def)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with the C definition of `task`; every pointer in it is valid only during the call.
    private static func withTaskDef(
        _ task: WorkflowTask,
        workflow: String,
        _ body: (inout cloacina_task_def) -> Int32
    ) -> Int32 {
        let task = task.definition
        let dependencies = task.dependencies.map { strdup($0) }
        defer { for pointer in dependencies { free(pointer) } }
        let constDependencies = dependencies.map { UnsafePointer($0) }
        let triggerJSON = task.trigger.map { $0.json.serializedString() }
        var retry: cloacina_retry_policy? = task.retry == .none ? nil : task.retry.abi
        return withCString(workflow) { workflowName in
            withCString(task.id) { id in
                withCString(task.description) { description in
                    withCString(triggerJSON) { trigger in
                        constDependencies.withUnsafeBufferPointer { dependencyPointers in
                            withOptionalPointer(&retry) { retryPointer in
                                var def = cloacina_task_def()
                                def.struct_size = UInt32(MemoryLayout<cloacina_task_def>.size)
                                def.workflow = workflowName
                                def.id = id
                                def.dependencies = dependencyPointers.baseAddress
                                def.dependency_count = UInt32(dependencyPointers.count)
                                def.retry = retryPointer
                                def.timeout_ms =
                                    task.timeout.map { $0 > .zero ? UInt64(max(1, $0.inMilliseconds)) : 0 } ?? 0
                                def.trigger_rule_json = trigger
                                def.description = description
                                return body(&def)
                            }
                        }
                    }
                }
            }
        }
    }

    private static func withCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }

    private static func withOptionalPointer<T, R>(_ value: inout T?, _ body: (UnsafePointer<T>?) -> R) -> R {
        guard value != nil else { return body(nil) }
        return withUnsafePointer(to: &value!) { body($0) }
    }
}

/// A task's body and the host API, kept alive for the life of the process behind the task's `user_data`.
final class TaskBox: Sendable {
    let body: WorkflowTask.Body
    nonisolated(unsafe) let host: UnsafePointer<cloacina_host_api>

    init(body: @escaping WorkflowTask.Body, host: UnsafePointer<cloacina_host_api>) {
        self.body = body
        self.host = host
    }
}
