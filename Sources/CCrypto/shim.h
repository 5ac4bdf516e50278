/* OpenSSL's libcrypto, for SHA-256 of workflow packages. */
#ifndef CLOACINA_CCRYPTO_SHIM_H
#define CLOACINA_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#endif
