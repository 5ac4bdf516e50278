/*
 * The benchmark workflow package: no-op tasks in the shapes cloacina-bench measures.
 *
 *   bench_single   one task
 *   bench_chain10  t0 -> t1 -> ... -> t9
 *   bench_fan10    root -> b0..b7 -> join
 *   bench_wide     root -> w0..w99 -> join
 *   bench_dag10k   10,000 tasks in 100 layers of 100; each task depends on two of the layer before
 *   bench_context  t0 -> t1 -> t2 -> t3 -> t4: t0, t2 and t4 return their input with one key added (their own id),
 *                  t1 and t3 return a copy of their input; what a large context costs
 *   bench_native_single, bench_native_chain10
 *                  the same shapes as bench_single and bench_chain10, each task a plain C function
 *                  `int64_t bench_step(int64_t n)` registered with register_native_task (ABI 1.1, argument key "n",
 *                  result key "n"), called through libffi: what the native-signature path costs per call
 *
 * Every other task returns OK with no output (the context passes on unchanged), so what is measured is the engine.
 * Built like any C package: `swift package build-workflows --product BenchWorkflows`, or
 *   cc -std=c99 -O2 -shared -fPIC -I sdk/Sources/CCloacinaABI/include -o libBenchWorkflows.so workflows/bench/bench.c
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloacina.h"

#define EXPORT __attribute__((visibility("default")))

static const cloacina_package_descriptor info = {
    sizeof(cloacina_package_descriptor), CLOACINA_ABI_MAJOR, CLOACINA_ABI_MINOR, 0, "bench", "1.0.0", NULL,
};

EXPORT const cloacina_package_descriptor *cloacina_package_info(void) {
    return &info;
}

static int32_t noop(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
    (void)user_data;
    (void)call;
    (void)output;
    return CLOACINA_TASK_OK;
}

static const cloacina_host_api *host;

/* Returns a copy of the input: a task that hands back the context it was given, unchanged. */
static int32_t echo(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
    (void)user_data;
    uint8_t *copy = host->alloc(call->context_len);
    if (!copy) return CLOACINA_TASK_FAILED;
    memcpy(copy, call->context_json, call->context_len);
    output->data = copy;
    output->len = call->context_len;
    return CLOACINA_TASK_OK;
}

/* Returns the input with one key added in front: `"<task id>":<attempt>` (the input never has it). */
static int32_t mark(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
    (void)user_data;
    const uint8_t *input = call->context_json;
    size_t length = call->context_len, open = 0;
    while (open < length && input[open] != '{') open++;
    if (open == length) return CLOACINA_TASK_BAD_INPUT;
    size_t rest = open + 1;
    while (rest < length && (input[rest] == ' ' || input[rest] == '\n' || input[rest] == '\t' || input[rest] == '\r'))
        rest++;
    int empty = rest < length && input[rest] == '}';
    char key[96];
    int written = snprintf(key, sizeof key, "{\"%s\":%u%s", call->task_id, (unsigned)call->attempt, empty ? "" : ",");
    if (written < 0 || (size_t)written >= sizeof key) return CLOACINA_TASK_FAILED;
    size_t size = (size_t)written + (length - rest);
    uint8_t *copy = host->alloc(size);
    if (!copy) return CLOACINA_TASK_FAILED;
    memcpy(copy, key, (size_t)written);
    memcpy(copy + written, input + rest, length - rest);
    output->data = copy;
    output->len = size;
    return CLOACINA_TASK_OK;
}

/* A native-signature task's function: no Cloacina types. */
static int64_t bench_step(int64_t n) {
    return n + 1;
}

/* Registers one native task calling bench_step with the context's "n", its result back into "n". */
static int add_native(const cloacina_host_api *api, cloacina_registrar *registrar, const char *workflow,
                      const char *id, const char *const *deps, size_t count) {
    static const char *const keys[] = {"n"};
    cloacina_native_task_def def;
    memset(&def, 0, sizeof def);
    def.struct_size = sizeof def;
    def.workflow = workflow;
    def.id = id;
    def.dependencies = deps;
    def.dependency_count = count;
    def.function = (cloacina_native_fn)bench_step;
    def.signature = "int64_t bench_step(int64_t n)";
    def.argument_keys = keys;
    def.argument_count = 1;
    def.result_key = "n";
    return api->register_native_task(registrar, &def) == CLOACINA_REGISTER_OK ? 0 : -1;
}

/* Registers one task running `function`; `id` and `deps` only need to live for the call (the host copies them). */
static int add_task(const cloacina_host_api *api, cloacina_registrar *registrar, const char *workflow, const char *id,
                    const char *const *deps, size_t count, cloacina_task_fn function) {
    cloacina_task_def def;
    memset(&def, 0, sizeof def);
    def.struct_size = sizeof def;
    def.workflow = workflow;
    def.id = id;
    def.dependencies = deps;
    def.dependency_count = count;
    def.function = function;
    return api->register_task(registrar, &def) == CLOACINA_REGISTER_OK ? 0 : -1;
}

/* Registers one no-op task. */
static int add(const cloacina_host_api *api, cloacina_registrar *registrar, const char *workflow, const char *id,
               const char *const *deps, size_t count) {
    return add_task(api, registrar, workflow, id, deps, count, noop);
}

static int workflow(const cloacina_host_api *api, cloacina_registrar *registrar, const char *name,
                    const char *description) {
    cloacina_workflow_def def = {sizeof def, name, description};
    return api->register_workflow(registrar, &def) == CLOACINA_REGISTER_OK ? 0 : -1;
}

/* t0 -> t1 -> ... -> t9, each task registered by `adder`. */
static int chain10(const cloacina_host_api *api, cloacina_registrar *registrar, const char *name,
                   const char *description,
                   int (*adder)(const cloacina_host_api *, cloacina_registrar *, const char *, const char *,
                                const char *const *, size_t)) {
    if (workflow(api, registrar, name, description) != 0) return -1;
    for (int i = 0; i < 10; i++) {
        char id[8], previous[8];
        snprintf(id, sizeof id, "t%d", i);
        snprintf(previous, sizeof previous, "t%d", i - 1);
        const char *deps[] = {previous};
        if (adder(api, registrar, name, id, deps, i == 0 ? 0 : 1) != 0) return -1;
    }
    return 0;
}

/* root -> `width` parallel tasks named prefix0.. -> join */
static int fan(const cloacina_host_api *api, cloacina_registrar *registrar, const char *name, const char *prefix,
               int width) {
    if (workflow(api, registrar, name, "root, parallel no-op tasks, join") != 0) return -1;
    if (add(api, registrar, name, "root", NULL, 0) != 0) return -1;
    const char *root[] = {"root"};
    char **ids = calloc((size_t)width, sizeof(char *));
    if (!ids) return -1;
    int status = 0;
    for (int i = 0; i < width && status == 0; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        size_t length = strlen(id) + 1;
        ids[i] = malloc(length);
        if (ids[i]) memcpy(ids[i], id, length);
        status = ids[i] ? add(api, registrar, name, ids[i], root, 1) : -1;
    }
    if (status == 0) status = add(api, registrar, name, "join", (const char *const *)ids, (size_t)width);
    for (int i = 0; i < width; i++) free(ids[i]);
    free(ids);
    return status;
}

static int dag(const cloacina_host_api *api, cloacina_registrar *registrar) {
    const char *name = "bench_dag10k";
    if (workflow(api, registrar, name, "10,000 no-op tasks in 100 layers of 100") != 0) return -1;
    for (int layer = 0; layer < 100; layer++) {
        for (int i = 0; i < 100; i++) {
            char id[32], a[32], b[32];
            snprintf(id, sizeof id, "l%d_%d", layer, i);
            snprintf(a, sizeof a, "l%d_%d", layer - 1, i);
            snprintf(b, sizeof b, "l%d_%d", layer - 1, (i + 1) % 100);
            const char *deps[] = {a, b};
            if (add(api, registrar, name, id, deps, layer == 0 ? 0 : 2) != 0) return -1;
        }
    }
    return 0;
}

EXPORT int32_t cloacina_package_init(const cloacina_host_api *api, cloacina_registrar *registrar) {
    host = api;
    if (workflow(api, registrar, "bench_single", "one no-op task") != 0) return 1;
    if (add(api, registrar, "bench_single", "t0", NULL, 0) != 0) return 1;

    if (chain10(api, registrar, "bench_chain10", "ten no-op tasks in a chain", add) != 0) return 1;
    if (fan(api, registrar, "bench_fan10", "b", 8) != 0) return 1;
    if (fan(api, registrar, "bench_wide", "w", 100) != 0) return 1;
    if (dag(api, registrar) != 0) return 1;

    if (workflow(api, registrar, "bench_context", "five tasks in a chain that return their whole context") != 0) return 1;
    for (int i = 0; i < 5; i++) {
        char id[8], previous[8];
        snprintf(id, sizeof id, "t%d", i);
        snprintf(previous, sizeof previous, "t%d", i - 1);
        const char *deps[] = {previous};
        if (add_task(api, registrar, "bench_context", id, deps, i == 0 ? 0 : 1, i % 2 == 0 ? mark : echo) != 0) return 1;
    }

    /* Native-signature tasks need a host whose table has register_native_task. */
    if (api->struct_size < offsetof(cloacina_host_api, register_native_task) + sizeof api->register_native_task)
        return CLOACINA_INIT_OK;
    if (workflow(api, registrar, "bench_native_single", "one native-signature task") != 0) return 1;
    if (add_native(api, registrar, "bench_native_single", "t0", NULL, 0) != 0) return 1;
    if (chain10(api, registrar, "bench_native_chain10", "ten native-signature tasks in a chain", add_native) != 0)
        return 1;
    return CLOACINA_INIT_OK;
}
