#ifndef STABLEID_COPENSSL_SHIM_H
#define STABLEID_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

/* EVP_PKEY_PUBLIC_KEY is a macro built from other macros, which Swift does not import: the
   selection that makes EVP_PKEY_fromdata build a public key (RSAPublicKey). */
static inline int stableid_evp_pkey_public_key_selection(void) {
    return EVP_PKEY_PUBLIC_KEY;
}
#endif
