/*
 * The two entry points every workflow package exports, implemented once for
 * all Swift packages. They forward to the package definition the author
 * returns from `cloacina_swift_package`.
 */
#include "cloacina_sdk_entry.h"
#include "cloacina_toolchain.h"

#define CLOACINA_HIDDEN __attribute__((visibility("hidden")))
#define CLOACINA_EXPORT __attribute__((visibility("protected")))

/* Defined by the package author, in Swift:
 *   @c(cloacina_swift_package) func cloacinaSwiftPackage() -> UnsafeRawPointer { myPackage.exported }
 * Weak, so images without a package (hosts that embed the SDK) still link. */
extern const void *cloacina_swift_package(void) __attribute__((weak)) CLOACINA_HIDDEN;

/* Implemented in Swift by CloacinaSDK. */
extern const cloacina_package_descriptor *cloacina_sdk_package_info(const void *package) CLOACINA_HIDDEN;
extern int32_t cloacina_sdk_package_init(
    const void *package, const cloacina_host_api *host, cloacina_registrar *registrar) CLOACINA_HIDDEN;

__attribute__((used, section(CLOACINA_TOOLCHAIN_SECTION)))
static const char cloacina_toolchain_tag_storage[] = CLOACINA_TOOLCHAIN_TAG;

const char *cloacina_sdk_toolchain_tag(void) {
    return cloacina_toolchain_tag_storage;
}

CLOACINA_EXPORT const cloacina_package_descriptor *cloacina_package_info(void) {
    if (!cloacina_swift_package) {
        return NULL;
    }
    return cloacina_sdk_package_info(cloacina_swift_package());
}

CLOACINA_EXPORT int32_t cloacina_package_init(const cloacina_host_api *host, cloacina_registrar *registrar) {
    if (!cloacina_swift_package) {
        if (host && registrar && host->report_error) {
            host->report_error(registrar, "the package defines no cloacina_swift_package function");
        }
        return 1;
    }
    return cloacina_sdk_package_init(cloacina_swift_package(), host, registrar);
}
