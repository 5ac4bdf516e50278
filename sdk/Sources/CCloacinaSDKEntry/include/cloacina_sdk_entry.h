/*
 * cloacina_sdk_entry.h: the glue between the two exported ABI entry points
 * and the Swift SDK. Internal to CloacinaSDK; package authors never include it.
 *
 * A Swift package declares one function, `cloacina_swift_package`, that hands
 * the SDK its package definition (see CloacinaSDK's WorkflowPackage). The C
 * entry points in entry.c find it through a weak reference, so the SDK also
 * links into programs that embed the engine and define no such function.
 */
#ifndef CLOACINA_SDK_ENTRY_H
#define CLOACINA_SDK_ENTRY_H

#include "cloacina.h"

/* The toolchain tag compiled into this image (also stored in the
 * CLOACINA_TOOLCHAIN_SECTION section for the host to read before loading). */
const char *cloacina_sdk_toolchain_tag(void) __attribute__((visibility("hidden")));

#endif /* CLOACINA_SDK_ENTRY_H */
