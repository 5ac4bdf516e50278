/*
 * cloacina.h: the Cloacina for Swift workflow package ABI, version 1.0.
 *
 * This header is the whole contract between a workflow package (a shared
 * object dropped into the host's workflow directory) and the host that loads
 * it. It is plain C99 with no dependencies beyond <stddef.h> and <stdint.h>,
 * so a package can be written in C, or in any language that can export C
 * functions. Swift authors use the CloacinaSDK module, which implements this
 * header for them.
 *
 * ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------
 * Every package exports exactly two functions with C linkage:
 *
 *   const cloacina_package_descriptor *cloacina_package_info(void);
 *   int32_t cloacina_package_init(const cloacina_host_api *host,
 *                                 cloacina_registrar *registrar);
 *
 * `cloacina_package_info` has no side effects: it returns a pointer to static
 * data describing the package, may be called at any time, from any thread,
 * any number of times, including before `cloacina_package_init`.
 *
 * `cloacina_package_init` is called once per loaded image, on one thread,
 * after the info has been checked. It registers the package's workflows and
 * tasks through `host` and returns CLOACINA_INIT_OK (0), or any other value to
 * refuse to load (describe why with `host->report_error`). Registration is
 * staged: nothing becomes visible unless init returns 0 and every workflow
 * validates (no cycle, no missing dependency, no duplicate id). If anything is
 * wrong, the whole package is rejected and none of it is registered.
 *
 * ------------------------------------------------------------------------
 * Versioning
 * ------------------------------------------------------------------------
 * The ABI has a major and a minor version. The host loads a package only if
 * the package's major equals the host's and the package's minor is not newer
 * than the host's. Within a major version structs only grow by appending
 * members; every struct starts with `struct_size`, set to sizeof() as the
 * writer was compiled. A reader never touches members beyond the size the
 * writer declared. A package that wants members added in a later minor
 * version checks `host->struct_size` first.
 *
 * Constants are plain literals so that every language's C importer sees them.
 *
 * ------------------------------------------------------------------------
 * Ownership and lifetimes
 * ------------------------------------------------------------------------
 * - Strings are UTF-8 and NUL-terminated unless a length is given.
 * - Everything the package passes to the host (definitions, names, JSON,
 *   messages) is borrowed for the duration of the call: the host copies what
 *   it keeps. The package may free or reuse it when the call returns.
 * - Everything the host passes to a task (`cloacina_task_call` and what it
 *   points to) is borrowed for the duration of that task call only.
 * - The data returned by `cloacina_package_info` must stay valid while the
 *   image is loaded (static storage).
 * - Task output is allocated with `host->alloc` and owned by the host once the
 *   task returns; the host frees it with `host->free`. Never return pointers
 *   to static or package-owned memory.
 * - The `host` table passed to init stays valid, unchanged, for the life of
 *   the process: a package may keep the pointer and use `alloc`, `free`,
 *   `log` and `is_cancelled` from its tasks.
 * - The `registrar` is valid only during `cloacina_package_init`.
 * - `user_data` given with a task is never dereferenced by the host; it is
 *   passed back to the task function on every call.
 * - The host never unloads a package image, so function pointers and
 *   `user_data` stay valid for the life of the process.
 *
 * ------------------------------------------------------------------------
 * Threading
 * ------------------------------------------------------------------------
 * - Task functions may be called from several threads at once, including
 *   the same task for different executions. They must be re-entrant.
 * - `register_workflow`, `register_task`, `register_schedule` and
 *   `register_native_task` (ABI 1.1) and `report_error` may only be called
 *   from inside `cloacina_package_init`, on the thread that called it.
 * - `alloc`, `free`, `log` and `is_cancelled` are thread-safe.
 * - Packages must not install signal handlers, change signal masks of other
 *   threads, fork, exit, or change process-wide state (working directory,
 *   locale, environment, resource limits). The host owns the process.
 * - A package may run in a worker process instead of the host (process
 *   isolation, the default of `cloacina run` and `serve`). Each worker opens
 *   the image itself, so constructors and `cloacina_package_init` run again in
 *   every worker, and several workers of one image may run at once: static
 *   state is per process, never shared between calls that run in different
 *   workers. A worker calls task functions one at a time, on one thread.
 *   A task that crashes, exits or is killed by a resource limit ends only its
 *   worker (the attempt fails, retryably); one that ignores `is_cancelled`
 *   is killed (SIGKILL) a grace period after it was cancelled, and idle
 *   workers are stopped the same way, so never rely on exit handlers or
 *   destructors running. What a package writes to standard output or
 *   standard error goes to the host's log; it must not touch descriptors it
 *   did not open.
 *
 * ------------------------------------------------------------------------
 * Contexts
 * ------------------------------------------------------------------------
 * - A task's input (`call->context_json`) is a JSON object in compact UTF-8:
 *   no insignificant white space, object keys sorted by their UTF-8 bytes,
 *   strings escaped only where JSON requires. It is not NUL-terminated.
 * - On CLOACINA_TASK_OK a task returns its whole context (any valid JSON
 *   object; formatting and key order do not matter), or no output to pass its
 *   input on unchanged. The host compares it with the input and keeps only the
 *   task's delta: the top-level keys it added or changed, and the keys it
 *   removed. A key returned with its input value counts as unchanged; a key
 *   of the input left out of the output counts as removed, so return a copy
 *   of the input with your changes, not only the keys you add.
 * - A task with dependencies receives the execution's input with its
 *   dependencies' changes applied, dependencies in declared order (later wins
 *   per key); a dependency that only passed a value on never overwrites a
 *   change another branch made to it. The final context is the input with
 *   every completed task's delta applied in topological order, ties in
 *   declaration order.
 * - Output is limited in size (64 MiB by default; the host's
 *   --max-output-bytes or CLOACINA_MAX_OUTPUT_BYTES): a larger output fails
 *   the attempt, as does one that is not a JSON object.
 *
 * ------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------
 * This header needs only C99. A package compiled with `-std=c99` that also
 * calls POSIX functions (open, usleep, clock_gettime, ...) must define
 * `_POSIX_C_SOURCE 200809L` before its first #include (strict C99 hides
 * POSIX declarations), or build with `-std=gnu11`.
 */
#ifndef CLOACINA_H
#define CLOACINA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version implemented by this header. */
#define CLOACINA_ABI_MAJOR 1
#define CLOACINA_ABI_MINOR 1

/* Names of the two exported entry points. */
#define CLOACINA_INFO_SYMBOL "cloacina_package_info"
#define CLOACINA_INIT_SYMBOL "cloacina_package_init"

/* ------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------ */

/* Returned by a task function. Any other value is treated as FAILED. */
#define CLOACINA_TASK_OK 0        /* output: the task's full context as a JSON object,
                                     or no output to pass the input on unchanged */
#define CLOACINA_TASK_FAILED 1    /* output: optional UTF-8 error message */
#define CLOACINA_TASK_RETRYABLE 2 /* a transient failure worth retrying; output as FAILED */
#define CLOACINA_TASK_BAD_INPUT 3 /* the context cannot be processed; never retried */

/* Returned by cloacina_package_init. */
#define CLOACINA_INIT_OK 0

/* Returned by register_workflow and register_task. */
#define CLOACINA_REGISTER_OK 0
#define CLOACINA_REGISTER_REJECTED 1 /* the reason is recorded by the host */

/* Log levels for host->log. */
#define CLOACINA_LOG_TRACE 0
#define CLOACINA_LOG_DEBUG 1
#define CLOACINA_LOG_INFO 2
#define CLOACINA_LOG_WARNING 3
#define CLOACINA_LOG_ERROR 4

/* Bits of cloacina_package_descriptor.flags. Unknown bits are rejected. */
#define CLOACINA_PACKAGE_FLAG_SWIFT 1 /* the package contains Swift code; `toolchain` is required */

/* cloacina_retry_policy.backoff */
#define CLOACINA_BACKOFF_FIXED 1       /* every delay is initial_delay_ms */
#define CLOACINA_BACKOFF_LINEAR 2      /* delay n is initial_delay_ms * n */
#define CLOACINA_BACKOFF_EXPONENTIAL 3 /* delay n is initial_delay_ms * multiplier^(n-1) */

/* cloacina_retry_policy.condition */
#define CLOACINA_RETRY_ALL_ERRORS 1     /* retry FAILED and RETRYABLE (never BAD_INPUT) */
#define CLOACINA_RETRY_NEVER 2          /* never retry */
#define CLOACINA_RETRY_RETRYABLE_ONLY 3 /* retry only RETRYABLE */

/* ------------------------------------------------------------------------
 * Package description
 * ------------------------------------------------------------------------ */

/* Static description of a package, returned by cloacina_package_info.
 * The first three members are frozen for every major version, so a host can
 * always read the version of a package it cannot load. */
typedef struct cloacina_package_descriptor {
    uint32_t struct_size; /* sizeof(cloacina_package_descriptor) */
    uint16_t abi_major;   /* CLOACINA_ABI_MAJOR the package was built against */
    uint16_t abi_minor;   /* CLOACINA_ABI_MINOR the package was built against */
    uint64_t flags;       /* CLOACINA_PACKAGE_FLAG_* */
    const char *name;     /* package name: [A-Za-z_][A-Za-z0-9_.-]{0,127} */
    const char *version;  /* package version, free text such as "1.2.0" (1..128 bytes) */
    /* Toolchain the package was compiled with. Required when the package
     * contains Swift code: Swift has no stable ABI on Linux, so the host loads
     * a Swift package only if this equals its own toolchain. NULL for C. */
    const char *toolchain;
} cloacina_package_descriptor;

/* ------------------------------------------------------------------------
 * Task calls
 * ------------------------------------------------------------------------ */

/* Everything a task is told about one call. Borrowed for the call only. */
typedef struct cloacina_task_call {
    uint32_t struct_size;
    uint32_t attempt;            /* 1 for the first attempt, 2 for the first retry, ... */
    const uint8_t *context_json; /* the task's input context: a JSON object, UTF-8 */
    size_t context_len;          /* bytes at context_json (not NUL-terminated) */
    const char *tenant;          /* tenant the execution belongs to */
    const char *workflow;        /* workflow name */
    const char *task_id;         /* task id within the workflow */
    const char *execution_id;    /* execution id, a UUID string */
    void *host_reserved;         /* host state for this call; never touch */
} cloacina_task_call;

/* Output of a task. Starts as {NULL, 0}. Allocate `data` with host->alloc. */
typedef struct cloacina_output {
    uint8_t *data;
    size_t len;
} cloacina_output;

/* A task. Returns a CLOACINA_TASK_* status.
 *
 * On CLOACINA_TASK_OK the output is the task's full context: a JSON object
 * (UTF-8) that usually starts as a copy of the input with the task's keys
 * added, changed or removed; the host keeps what changed (see "Contexts").
 * Leaving the output empty passes the input on unchanged.
 * On any other status the output, if any, is a UTF-8 error message. */
typedef int32_t (*cloacina_task_fn)(void *user_data, const cloacina_task_call *call, cloacina_output *output);

/* ------------------------------------------------------------------------
 * Registration
 * ------------------------------------------------------------------------ */

/* A workflow: a named graph of tasks. */
typedef struct cloacina_workflow_def {
    uint32_t struct_size;
    const char *name;        /* [A-Za-z_][A-Za-z0-9_.-]{0,127}, unique across loaded packages */
    const char *description; /* may be NULL */
} cloacina_workflow_def;

/* How a failed task is retried. */
typedef struct cloacina_retry_policy {
    uint32_t struct_size;
    uint32_t max_attempts;     /* total attempts including the first, >= 1 */
    uint32_t backoff;          /* CLOACINA_BACKOFF_* */
    uint32_t condition;        /* CLOACINA_RETRY_* */
    uint64_t initial_delay_ms; /* delay before the first retry */
    uint64_t max_delay_ms;     /* cap on any delay, >= initial_delay_ms */
    double multiplier;         /* exponential growth factor, >= 1.0; ignored otherwise */
    uint32_t jitter_percent;   /* each delay varies randomly by up to +/- this percentage, 0..100 */
} cloacina_retry_policy;

/* A task of a workflow registered earlier in the same init. */
typedef struct cloacina_task_def {
    uint32_t struct_size;
    const char *workflow;             /* name of the workflow the task belongs to */
    const char *id;                   /* [A-Za-z_][A-Za-z0-9_.-]{0,127}, unique in the workflow */
    const char *const *dependencies;  /* ids of tasks this one runs after, in merge order */
    uint32_t dependency_count;
    cloacina_task_fn function;        /* required */
    void *user_data;                  /* passed back to `function` on every call */
    const cloacina_retry_policy *retry; /* NULL: no retries */
    uint64_t timeout_ms;              /* 0: the host's default task timeout */
    /* Trigger rule as a JSON object, or NULL for the default: run when every
     * dependency completed, skip otherwise. Shape:
     *   {"type":"always"}
     *   {"type":"all"|"any"|"none", "conditions":[<condition>, ...]}
     * where a condition is
     *   {"type":"task_success"|"task_failed"|"task_skipped", "task":"<id>"}
     *   {"type":"context_value", "key":"<top-level key>", "operator":"<op>", "value":<json>}
     * with <op> one of equals, not_equals, greater_than, less_than, contains,
     * not_contains, exists, not_exists ("value" is omitted for the last two).
     * A task condition must name a dependency or an ancestor of this task. */
    const char *trigger_rule_json;
    const char *description;          /* may be NULL */
} cloacina_task_def;

/* ABI 1.1: a cron schedule the package declares for one of its workflows, as
 * a default. A host creates it in every tenant it serves that has no schedule
 * with this id (source "package"); the tenant may pause, change or delete it
 * like its own (a deleted one comes back when the package is loaded again).
 * The host copies every string during the call. */
typedef struct cloacina_schedule_def {
    uint32_t struct_size;
    const char *workflow;   /* a workflow registered earlier in the same init */
    const char *id;         /* [A-Za-z_][A-Za-z0-9_.-]{0,127}, unique in the package */
    const char *cron;       /* 5 fields, or 6 with leading seconds, or @hourly, @daily, ... */
    const char *time_zone;  /* IANA name; NULL: "UTC" */
    const char *input_json; /* the input context of each run, a JSON object; NULL: {} */
    const char *catch_up;   /* "skip" (NULL), "all" or "none" */
    const char *overlap;    /* "allow" (NULL), "skip", "queue" or "cancel-previous" */
    uint32_t catch_up_cap;  /* 1..1000; 0: 100 */
} cloacina_schedule_def;

/* ABI 1.1: native-signature tasks.
 *
 * A native task is a plain C function of an ordinary signature, with no
 * Cloacina types and no JSON, such as
 *
 *   double score(int64_t n, double weight, const char *label);
 *
 * registered with its C declaration as text and the context key that feeds
 * each parameter. The host builds the call at run time with libffi: it reads
 * each argument from the task's input context, converts it to the C type
 * (checking that it fits: 300 is refused for int8_t, 1.5 for int64_t, a
 * string for double, an integer beyond 2^53), calls the function, and stores
 * the result as JSON under `result_key` in the task's output (the input with
 * that one key added or replaced). A missing key or a value that does not
 * fit fails the task as bad input (never retried), naming the key.
 *
 * Types, in the signature's C spelling:
 *   void (result only); bool / _Bool; int8_t ... uint64_t and the C names
 *   char types excepted (signed char, short, int, unsigned, long, long long,
 *   size_t, ssize_t, intptr_t ...); float; double;
 *   const char *   in: a JSON string, NUL-terminated (no NUL inside);
 *                  result (char * or const char *): a JSON string, NULL as null;
 *   const void *, const uint8_t *, const unsigned char *
 *                  in: a byte buffer, from a JSON string's UTF-8 bytes or from
 *                  {"base64": "..."}; give a length parameter the argument key
 *                  "len(KEY)" to receive its byte count.
 * Structs, mutable pointers (out-parameters), pointers to pointers, callbacks
 * and variadic functions are refused when the task is registered.
 *
 * Result checks (`fail_if`) turn C error conventions into task failures:
 * NEGATIVE, ZERO, NONZERO (numbers and bool) or NULL (string results). With
 * CLOACINA_NATIVE_READ_ERRNO the message carries errno as the call left it;
 * with CLOACINA_NATIVE_RETRYABLE such a failure is retryable (else it fails
 * the attempt as CLOACINA_TASK_FAILED does).
 *
 * Ownership and threading: as for every task. The host copies the definition
 * during the call; `function` and `free_result` stay valid for the life of the
 * process (images are never unloaded). Arguments are borrowed for the call:
 * a string or buffer pointer is valid only until the function returns. A
 * string result is copied by the host, then passed to `free_result` when set
 * (otherwise it is left alone, as for static text). The function may be
 * called from several threads at once, and it cannot see is_cancelled: one
 * that runs past its timeout is abandoned in process, and killed with its
 * worker under process isolation. */
#define CLOACINA_NATIVE_FAIL_NONE 0
#define CLOACINA_NATIVE_FAIL_NEGATIVE 1
#define CLOACINA_NATIVE_FAIL_ZERO 2
#define CLOACINA_NATIVE_FAIL_NONZERO 3
#define CLOACINA_NATIVE_FAIL_NULL 4

/* Bits of cloacina_native_task_def.flags. Unknown bits are rejected. */
#define CLOACINA_NATIVE_READ_ERRNO 1 /* a failure's message carries errno */
#define CLOACINA_NATIVE_RETRYABLE 2  /* a failure by fail_if is retryable */

/* Any C function, cast to this type for registration: (cloacina_native_fn)score. */
typedef void (*cloacina_native_fn)(void);

typedef struct cloacina_native_task_def {
    uint32_t struct_size;
    const char *workflow;             /* name of the workflow the task belongs to */
    const char *id;                   /* [A-Za-z_][A-Za-z0-9_.-]{0,127}, unique in the workflow */
    const char *const *dependencies;  /* ids of tasks this one runs after, in merge order */
    uint32_t dependency_count;
    cloacina_native_fn function;      /* required: the C function, of `signature` */
    const char *signature;            /* required: its C declaration, e.g.
                                         "double score(int64_t n, double weight, const char *label)";
                                         names are optional, "(void)" for none */
    const char *const *argument_keys; /* one per parameter: a top-level context key, or "len(KEY)" */
    uint32_t argument_count;
    const char *result_key;           /* the key that receives the result; NULL to keep none (void: NULL) */
    uint32_t fail_if;                 /* CLOACINA_NATIVE_FAIL_* */
    uint32_t flags;                   /* CLOACINA_NATIVE_READ_ERRNO | CLOACINA_NATIVE_RETRYABLE */
    void (*free_result)(void *);      /* frees a string result once copied; NULL: never freed */
    const cloacina_retry_policy *retry; /* NULL: no retries */
    uint64_t timeout_ms;              /* 0: the host's default task timeout */
    const char *trigger_rule_json;    /* as cloacina_task_def's; NULL for the default */
    const char *description;          /* may be NULL */
} cloacina_native_task_def;

/* Opaque registration handle, valid only during cloacina_package_init. */
typedef struct cloacina_registrar cloacina_registrar;

/* ------------------------------------------------------------------------
 * Host API
 * ------------------------------------------------------------------------ */

/* Functions the host offers to a package. Passed to init; valid for the life
 * of the process. Members are only ever appended. */
typedef struct cloacina_host_api {
    uint32_t struct_size; /* sizeof(cloacina_host_api) as the host was built */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Registration: only during init, on the init thread. Returns
     * CLOACINA_REGISTER_OK or CLOACINA_REGISTER_REJECTED; a rejection is
     * recorded and fails the whole package even if init then returns 0. */
    int32_t (*register_workflow)(cloacina_registrar *registrar, const cloacina_workflow_def *def);
    int32_t (*register_task)(cloacina_registrar *registrar, const cloacina_task_def *def);
    /* Explains why init is about to fail. Only during init. */
    void (*report_error)(cloacina_registrar *registrar, const char *message);

    /* Logs a message. `call` is the current task call, or NULL outside tasks
     * (during init, for example). Thread-safe. A pointer that is not a task
     * call running now (garbage, a copy of the struct, a call that returned)
     * is refused: the host logs the refusal, not the message as the task's. */
    void (*log)(const cloacina_task_call *call, int32_t level, const char *message);

    /* Memory for task output. Thread-safe. alloc returns NULL on failure. */
    void *(*alloc)(size_t size);
    void (*free)(void *pointer);

    /* Non-zero once the host wants the call to stop (timeout, cancellation or
     * shutdown). A task should check it in long loops and return
     * CLOACINA_TASK_FAILED soon after; its result is discarded. Thread-safe;
     * `call` must be the current call: any other pointer (NULL included) is
     * refused, logged, and answered with 1. */
    int32_t (*is_cancelled)(const cloacina_task_call *call);

    /* ABI 1.1. Declares a default schedule (cloacina_schedule_def); only during
     * init, on the init thread, like register_task. A package built for 1.1
     * may call it only when host->abi_minor >= 1 (a 1.0 host refuses such a
     * package before init anyway). */
    int32_t (*register_schedule)(cloacina_registrar *registrar, const cloacina_schedule_def *def);

    /* ABI 1.1. Registers a native-signature task (cloacina_native_task_def);
     * only during init, on the init thread, like register_task. A signature
     * the host cannot read or build, a key outside the naming rule, a binding
     * that does not fit the signature or an unsupported type rejects it (and
     * the package) with the reason. */
    int32_t (*register_native_task)(cloacina_registrar *registrar, const cloacina_native_task_def *def);
} cloacina_host_api;

/* ------------------------------------------------------------------------
 * Entry points every package exports
 * ------------------------------------------------------------------------ */

typedef const cloacina_package_descriptor *(*cloacina_package_info_fn)(void);
typedef int32_t (*cloacina_package_init_fn)(const cloacina_host_api *host, cloacina_registrar *registrar);

#ifdef __cplusplus
}
#endif

#endif /* CLOACINA_H */
