/*
 * cloacina_toolchain.h: how Swift packages and hosts name the toolchain that
 * compiled them. C packages do not need this header.
 *
 * Swift has no stable ABI on Linux: a Swift package must be compiled by the
 * same toolchain as the host that loads it. Both sides compile this header
 * with the toolchain's own clang, whose version string names the exact
 * llvm-project commit the toolchain was built from, so equal tags mean the
 * same toolchain build.
 */
#ifndef CLOACINA_TOOLCHAIN_H
#define CLOACINA_TOOLCHAIN_H

#if defined(__clang__) && defined(__clang_version__)
#define CLOACINA_TOOLCHAIN_TAG "swiftlang-clang " __clang_version__
#else
#define CLOACINA_TOOLCHAIN_TAG "unknown"
#endif

/* Name of the ELF section in which a Swift package stores its toolchain tag,
 * so the host can compare it before the image is loaded. */
#define CLOACINA_TOOLCHAIN_SECTION "cloacina_toolchain"

/* The tag of the toolchain compiling the caller. */
static inline const char *cloacina_toolchain_tag(void) {
    return CLOACINA_TOOLCHAIN_TAG;
}

/* The Swift compiler version compiling the caller, as major*10000 +
 * minor*100 + patch, or -1 when the caller is not Swift. */
static inline long cloacina_swift_compiler_version(void) {
#ifdef __swift__
    return __swift__;
#else
    return -1;
#endif
}

#endif /* CLOACINA_TOOLCHAIN_H */
