/*
 * An example workflow package in plain C, written against cloacina.h alone.
 *
 * Workflow "fingerprint":   measure ──> checksum
 *   measure   adds "input_bytes": the size of the JSON context it received;
 *   checksum  adds "fnv1a": a 64-bit FNV-1a hash of the context it received (hex).
 *
 * Build it like any C shared library:
 *   cc -std=c99 -O2 -shared -fPIC -I sdk/Sources/CCloacinaABI/include \
 *      -o libCFingerprint.so workflows/c-fingerprint/c_fingerprint.c
 * or with `swift package build-workflows`, which does the same for C products.
 */
#include <stdio.h>
#include <string.h>

#include "cloacina.h"

#define EXPORT __attribute__((visibility("default")))

/* Set once by init, before any task runs; read-only afterwards. */
static const cloacina_host_api *host;

static const cloacina_package_descriptor info = {
    sizeof(cloacina_package_descriptor), CLOACINA_ABI_MAJOR, CLOACINA_ABI_MINOR, 0, "c-fingerprint", "1.0.0", NULL,
};

EXPORT const cloacina_package_descriptor *cloacina_package_info(void) {
    return &info;
}

/* Writes a UTF-8 message as the task's output. */
static void set_message(cloacina_output *output, const char *message) {
    size_t len = strlen(message);
    uint8_t *data = host->alloc(len);
    if (data) {
        memcpy(data, message, len);
        output->data = data;
        output->len = len;
    }
}

/* Outputs the input context with one more member, `"key":value_json`. */
static int32_t add_member(const cloacina_task_call *call, const char *key, const char *value_json,
                          cloacina_output *output) {
    const uint8_t *json = call->context_json;
    size_t end = call->context_len;
    while (end > 0 && (json[end - 1] == ' ' || json[end - 1] == '\n' || json[end - 1] == '\r' || json[end - 1] == '\t')) {
        end--;
    }
    size_t start = 0;
    while (start < end && (json[start] == ' ' || json[start] == '\n' || json[start] == '\r' || json[start] == '\t')) {
        start++;
    }
    if (end - start < 2 || json[start] != '{' || json[end - 1] != '}') {
        set_message(output, "the context is not a JSON object");
        return CLOACINA_TASK_BAD_INPUT;
    }
    size_t close = end - 1, last = close;
    while (last > start && (json[last - 1] == ' ' || json[last - 1] == '\n' || json[last - 1] == '\r' || json[last - 1] == '\t')) {
        last--;
    }
    int empty = json[last - 1] == '{';

    size_t key_len = strlen(key), value_len = strlen(value_json);
    size_t size = (close - start) + (empty ? 0 : 1) + key_len + 3 + value_len + 1;
    uint8_t *data = host->alloc(size);
    if (!data) {
        return CLOACINA_TASK_RETRYABLE;
    }
    size_t at = 0;
    memcpy(data, json + start, close - start);
    at += close - start;
    if (!empty) {
        data[at++] = ',';
    }
    data[at++] = '"';
    memcpy(data + at, key, key_len);
    at += key_len;
    data[at++] = '"';
    data[at++] = ':';
    memcpy(data + at, value_json, value_len);
    at += value_len;
    data[at++] = '}';
    output->data = data;
    output->len = at;
    return CLOACINA_TASK_OK;
}

static int32_t measure(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
    (void)user_data;
    char value[32];
    snprintf(value, sizeof value, "%zu", call->context_len);
    host->log(call, CLOACINA_LOG_DEBUG, "measured the context");
    return add_member(call, "input_bytes", value, output);
}

static int32_t checksum(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
    (void)user_data;
    uint64_t hash = 0xcbf29ce484222325u;
    for (size_t i = 0; i < call->context_len; i++) {
        if ((i & 0xffff) == 0 && host->is_cancelled(call)) {
            set_message(output, "cancelled");
            return CLOACINA_TASK_FAILED;
        }
        hash = (hash ^ call->context_json[i]) * 0x100000001b3u;
    }
    char value[24];
    snprintf(value, sizeof value, "\"%016llx\"", (unsigned long long)hash);
    return add_member(call, "fnv1a", value, output);
}

EXPORT int32_t cloacina_package_init(const cloacina_host_api *api, cloacina_registrar *registrar) {
    if (api->struct_size < sizeof(cloacina_host_api) || api->abi_major != CLOACINA_ABI_MAJOR) {
        return 1;
    }
    host = api;

    cloacina_workflow_def workflow = {sizeof workflow, "fingerprint", "Measure a context, then hash it"};
    if (host->register_workflow(registrar, &workflow) != CLOACINA_REGISTER_OK) {
        return 1;
    }

    cloacina_task_def task = {0};
    task.struct_size = sizeof task;
    task.workflow = "fingerprint";
    task.id = "measure";
    task.function = measure;
    task.description = "Add the size of the context in bytes";
    if (host->register_task(registrar, &task) != CLOACINA_REGISTER_OK) {
        return 1;
    }

    static const char *const checksum_deps[] = {"measure"};
    cloacina_retry_policy retry = {
        sizeof retry, 3, CLOACINA_BACKOFF_EXPONENTIAL, CLOACINA_RETRY_RETRYABLE_ONLY, 100, 2000, 2.0, 10,
    };
    task.id = "checksum";
    task.dependencies = checksum_deps;
    task.dependency_count = 1;
    task.function = checksum;
    task.retry = &retry;
    task.timeout_ms = 5000;
    task.description = "Add a 64-bit FNV-1a hash of the context";
    if (host->register_task(registrar, &task) != CLOACINA_REGISTER_OK) {
        return 1;
    }
    return CLOACINA_INIT_OK;
}
