/* The system's libffi, plus wrappers for what Swift cannot import: the type descriptors are mutable globals (which
 * strict concurrency will not let Swift take the address of), FFI_DEFAULT_ABI and FFI_FN are macros, and errno must be
 * read right after the call, before any other code can change it. */
#ifndef CLOACINA_CFFI_SHIM_H
#define CLOACINA_CFFI_SHIM_H

#include <errno.h>
#include <ffi.h>

/* Codes for cloacina_ffi_type, one per C type a native task may use. */
enum {
    CLOACINA_FFI_VOID = 0,
    CLOACINA_FFI_UINT8 = 1,
    CLOACINA_FFI_SINT8 = 2,
    CLOACINA_FFI_UINT16 = 3,
    CLOACINA_FFI_SINT16 = 4,
    CLOACINA_FFI_UINT32 = 5,
    CLOACINA_FFI_SINT32 = 6,
    CLOACINA_FFI_UINT64 = 7,
    CLOACINA_FFI_SINT64 = 8,
    CLOACINA_FFI_FLOAT = 9,
    CLOACINA_FFI_DOUBLE = 10,
    CLOACINA_FFI_POINTER = 11,
};

/* The libffi type descriptor for a CLOACINA_FFI_* code; NULL for an unknown code. */
static inline ffi_type *cloacina_ffi_type(int code) {
    switch (code) {
    case CLOACINA_FFI_VOID: return &ffi_type_void;
    case CLOACINA_FFI_UINT8: return &ffi_type_uint8;
    case CLOACINA_FFI_SINT8: return &ffi_type_sint8;
    case CLOACINA_FFI_UINT16: return &ffi_type_uint16;
    case CLOACINA_FFI_SINT16: return &ffi_type_sint16;
    case CLOACINA_FFI_UINT32: return &ffi_type_uint32;
    case CLOACINA_FFI_SINT32: return &ffi_type_sint32;
    case CLOACINA_FFI_UINT64: return &ffi_type_uint64;
    case CLOACINA_FFI_SINT64: return &ffi_type_sint64;
    case CLOACINA_FFI_FLOAT: return &ffi_type_float;
    case CLOACINA_FFI_DOUBLE: return &ffi_type_double;
    case CLOACINA_FFI_POINTER: return &ffi_type_pointer;
    default: return 0;
    }
}

/* Prepares `cif` for a call with the platform's default calling convention. Returns FFI_OK (0) or libffi's status. */
static inline int cloacina_ffi_prep(ffi_cif *cif, unsigned count, ffi_type *result, ffi_type **arguments) {
    return (int)ffi_prep_cif(cif, FFI_DEFAULT_ABI, count, result, arguments);
}

/* Calls `function` as `cif` describes; returns errno as the call left it (errno is cleared before the call). */
static inline int cloacina_ffi_call(ffi_cif *cif, void *function, void *result, void **arguments) {
    errno = 0;
    ffi_call(cif, (void (*)(void))function, result, arguments);
    return errno;
}

#endif /* CLOACINA_CFFI_SHIM_H */
