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
#include <openssl/core_names.h>

/* OSSL_PARAM_BLD keeps the parameter's name pointer until OSSL_PARAM_BLD_to_param, so the names
   must outlive the push: C's static strings do, the temporary C strings Swift makes for a call
   do not. Pushes an RSA public key's modulus and exponent (RSAPublicKey). */
static inline int stableid_push_rsa_public_numbers(OSSL_PARAM_BLD *builder, const BIGNUM *n, const BIGNUM *e) {
    return OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n) == 1
        && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e) == 1;
}

/* EVP_PKEY_PUBLIC_KEY is a macro built from other macros, which Swift does not import: the
   selection that makes EVP_PKEY_fromdata build a public key (RSAPublicKey). */
static inline int stableid_evp_pkey_public_key_selection(void) {
    return EVP_PKEY_PUBLIC_KEY;
}
#endif
