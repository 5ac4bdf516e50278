/* Plain C functions with no Cloacina types, one per type a native-signature task supports and a few
 * combinations: what the native-task tests call through libffi, directly and as a foreign library. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int8_t negate_i8(int8_t x) { return (int8_t)-x; }
uint8_t next_u8(uint8_t x) { return (uint8_t)(x + 1); }
int16_t negate_i16(int16_t x) { return (int16_t)-x; }
uint16_t next_u16(uint16_t x) { return (uint16_t)(x + 1); }
int32_t negate_i32(int32_t x) { return -x; }
uint32_t next_u32(uint32_t x) { return x + 1; }
int64_t negate_i64(int64_t x) { return -x; }
uint64_t next_u64(uint64_t x) { return x + 1; }
size_t twice_size(size_t x) { return 2 * x; }
float half_f(float x) { return x / 2; }
double half_d(double x) { return x / 2; }
bool invert(bool x) { return !x; }
int64_t add(int64_t a, int64_t b) { return a + b; }

/* The example: a plain signature of mixed types. */
double score(int64_t n, double weight, const char *label) { return (double)n * weight + (double)strlen(label); }

/* Eight parameters of different widths, passed in registers and on the stack. */
double mix(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g, const char *h) {
    return a + b + c + (double)d + e + f + (g ? 1 : 0) + (double)strlen(h);
}

/* A buffer and its length: the sum of its bytes. */
uint32_t sum_bytes(const uint8_t *data, uint32_t length) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < length; i++) sum += data[i];
    return sum;
}

/* A buffer without a length parameter (its bytes arrive NUL-terminated): the string's length. */
size_t buffer_strlen(const void *data) { return strlen((const char *)data); }

/* A string result the caller frees with release_text. */
char *greet(const char *name) {
    size_t length = strlen(name) + 8;
    char *text = malloc(length);
    if (text) snprintf(text, length, "hello, %s", name);
    return text;
}
static int released = 0;
void release_text(void *text) {
    released++;
    free(text);
}
int32_t released_count(void) { return released; }

/* A static string result, never freed. */
const char *library_version(void) { return "native-types 1.0"; }
const char *maybe_text(bool give) { return give ? "given" : NULL; }

/* Failures by C convention. */
int32_t fail_with_errno(int32_t code) {
    errno = code;
    return code == 0 ? 0 : -1;
}
int32_t identity_i32(int32_t x) { return x; }

/* Results a context cannot hold. */
uint64_t largest_u64(void) { return UINT64_MAX; }
double not_a_number(void) { return NAN; }

/* Appends one line to `path` and returns 0, or -1 with errno: counts real calls. */
int32_t record_call(const char *path) {
    FILE *file = fopen(path, "a");
    if (!file) return -1;
    fputs("call\n", file);
    fclose(file);
    return 0;
}

/* Sleeps `milliseconds`, then returns them. */
int64_t sleep_ms(int64_t milliseconds) {
    struct timespec delay = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    nanosleep(&delay, NULL);
    return milliseconds;
}

/* Dereferences NULL when asked: a foreign function that crashes. */
int64_t crash_if(int64_t crash) {
    if (crash) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    return crash;
}

/* A function with no parameters and no result. */
static int touched = 0;
void touch(void) { touched++; }
int32_t touched_count(void) { return touched; }
