/*
 * Compile-time checks of the ABI layout. Version 1.0 of every struct is
 * frozen: if one of these fails, the change broke existing packages. Add
 * members only at the end of a struct, and add checks for them here.
 */
#include "cloacina.h"

#define CLOACINA_CHECK(name, condition) _Static_assert(condition, name)

#if UINTPTR_MAX == 0xffffffffffffffffu
CLOACINA_CHECK("package_descriptor 1.0 layout", sizeof(cloacina_package_descriptor) == 40);
CLOACINA_CHECK("package_descriptor.flags", offsetof(cloacina_package_descriptor, flags) == 8);
CLOACINA_CHECK("package_descriptor.toolchain", offsetof(cloacina_package_descriptor, toolchain) == 32);
CLOACINA_CHECK("task_call 1.0 layout", sizeof(cloacina_task_call) == 64);
CLOACINA_CHECK("task_call.host_reserved", offsetof(cloacina_task_call, host_reserved) == 56);
CLOACINA_CHECK("output layout", sizeof(cloacina_output) == 16);
CLOACINA_CHECK("workflow_def 1.0 layout", sizeof(cloacina_workflow_def) == 24);
CLOACINA_CHECK("retry_policy 1.0 layout", sizeof(cloacina_retry_policy) == 48);
CLOACINA_CHECK("retry_policy.jitter_percent", offsetof(cloacina_retry_policy, jitter_percent) == 40);
CLOACINA_CHECK("task_def 1.0 layout", sizeof(cloacina_task_def) == 88);
CLOACINA_CHECK("task_def.trigger_rule_json", offsetof(cloacina_task_def, trigger_rule_json) == 72);
CLOACINA_CHECK("host_api 1.1 layout", sizeof(cloacina_host_api) == 80);
CLOACINA_CHECK("host_api.is_cancelled", offsetof(cloacina_host_api, is_cancelled) == 56);
CLOACINA_CHECK("host_api.register_schedule appended", offsetof(cloacina_host_api, register_schedule) == 64);
CLOACINA_CHECK("schedule_def 1.1 layout", sizeof(cloacina_schedule_def) == 72);
CLOACINA_CHECK("schedule_def.catch_up_cap", offsetof(cloacina_schedule_def, catch_up_cap) == 64);
CLOACINA_CHECK("host_api.register_native_task appended", offsetof(cloacina_host_api, register_native_task) == 72);
CLOACINA_CHECK("native_task_def 1.1 layout", sizeof(cloacina_native_task_def) == 128);
CLOACINA_CHECK("native_task_def.function", offsetof(cloacina_native_task_def, function) == 40);
CLOACINA_CHECK("native_task_def.fail_if", offsetof(cloacina_native_task_def, fail_if) == 80);
CLOACINA_CHECK("native_task_def.free_result", offsetof(cloacina_native_task_def, free_result) == 88);
#endif

/* The frozen prefix of cloacina_package_descriptor, valid for every major version. */
CLOACINA_CHECK("package_descriptor.struct_size first", offsetof(cloacina_package_descriptor, struct_size) == 0);
CLOACINA_CHECK("package_descriptor.abi_major", offsetof(cloacina_package_descriptor, abi_major) == 4);
CLOACINA_CHECK("package_descriptor.abi_minor", offsetof(cloacina_package_descriptor, abi_minor) == 6);
