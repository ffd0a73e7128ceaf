/* Hashes (GnuTLS), HMAC and PBKDF2. */
#ifndef QCRYPTO_HASH_H
#define QCRYPTO_HASH_H

#include <stddef.h>
#include <stdbool.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"   /* QCryptoHashAlgo */

bool qcrypto_hash_supports(QCryptoHashAlgo alg);
size_t qcrypto_hash_digest_len(QCryptoHashAlgo alg);

/* One-shot digest of a buffer; out must hold digest_len bytes. */
int qcrypto_hash_bytes(QCryptoHashAlgo alg, const void *buf, size_t len,
                       guint8 *out, GError **errp);

/* Incremental hashing, used by the anti-forensic diffuser and LUKS2 checksums. */
typedef struct QCryptoHash QCryptoHash;
QCryptoHash *qcrypto_hash_new(QCryptoHashAlgo alg, GError **errp);
void qcrypto_hash_update(QCryptoHash *h, const void *buf, size_t len);
void qcrypto_hash_finish(QCryptoHash *h, guint8 *out); /* frees h */

int qcrypto_hmac_bytes(QCryptoHashAlgo alg, const void *key, size_t nkey,
                       const void *buf, size_t len, guint8 *out, GError **errp);

#endif
