/* Internals shared by hash.c, hmac.c, pbkdf.c, afsplit.c.  Not public. */
#ifndef QCRYPTO_HASHPRIV_H
#define QCRYPTO_HASHPRIV_H

#include <stdint.h>
#include <nettle/nettle-types.h>
#include <nettle/nettle-meta.h>
#include "crypto/hash.h"

typedef struct QCryptoHmacOps {
    size_t digest_len;
    size_t ctx_len;
    void (*set_key)(void *ctx, size_t nkey, const uint8_t *key);
    nettle_hash_update_func *update;
    nettle_hash_digest_func *digest;   /* also rearms for the next message */
} QCryptoHmacOps;

/* NULL for an unknown algorithm. */
const QCryptoHmacOps *qcrypto_hmac_ops(QCryptoHashAlgo alg);

/*
 * Nettle's descriptor for a hash (NULL for an unknown one), for hot loops
 * that hash many short messages (the anti-forensic diffuser), where
 * creating a GnuTLS context per message would dominate.
 */
const struct nettle_hash *qcrypto_hash_nettle_meta(QCryptoHashAlgo alg);

/* Lower-case name as in the schema, for messages. */
const char *qcrypto_hash_name(QCryptoHashAlgo alg);

#endif
