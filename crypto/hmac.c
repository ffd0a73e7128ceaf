/*
 * HMAC over Nettle's keyed HMAC contexts.  One code path for every hash
 * (GnuTLS lacks ripemd160), and PBKDF2 reuses the same keyed state.
 * The keyed state is derived from the key, so it lives in locked memory.
 */
#include <nettle/hmac.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/hashpriv.h"

/* Typed wrappers so nothing is called through a mismatched pointer type. */
#define HMAC_OPS(name, NAME)                                                 \
    static void hmac_##name##_key(void *ctx, size_t n, const uint8_t *k)     \
    {                                                                        \
        hmac_##name##_set_key(ctx, n, k);                                    \
    }                                                                        \
    static void hmac_##name##_upd(void *ctx, size_t n, const uint8_t *d)     \
    {                                                                        \
        hmac_##name##_update(ctx, n, d);                                     \
    }                                                                        \
    static void hmac_##name##_dig(void *ctx, size_t n, uint8_t *out)         \
    {                                                                        \
        hmac_##name##_digest(ctx, n, out);                                   \
    }                                                                        \
    static const QCryptoHmacOps hmac_##name##_ops = {                        \
        NAME##_DIGEST_SIZE, sizeof(struct hmac_##name##_ctx),                \
        hmac_##name##_key, hmac_##name##_upd, hmac_##name##_dig,             \
    }

HMAC_OPS(md5, MD5);
HMAC_OPS(sha1, SHA1);
HMAC_OPS(sha224, SHA224);
HMAC_OPS(sha256, SHA256);
HMAC_OPS(sha384, SHA384);
HMAC_OPS(sha512, SHA512);
HMAC_OPS(ripemd160, RIPEMD160);

const QCryptoHmacOps *qcrypto_hmac_ops(QCryptoHashAlgo alg)
{
    switch (alg) {
    case QCRYPTO_HASH_ALGO_MD5:
        return &hmac_md5_ops;
    case QCRYPTO_HASH_ALGO_SHA1:
        return &hmac_sha1_ops;
    case QCRYPTO_HASH_ALGO_SHA224:
        return &hmac_sha224_ops;
    case QCRYPTO_HASH_ALGO_SHA256:
        return &hmac_sha256_ops;
    case QCRYPTO_HASH_ALGO_SHA384:
        return &hmac_sha384_ops;
    case QCRYPTO_HASH_ALGO_SHA512:
        return &hmac_sha512_ops;
    case QCRYPTO_HASH_ALGO_RIPEMD160:
        return &hmac_ripemd160_ops;
    default:
        return NULL;
    }
}

int qcrypto_hmac_bytes(QCryptoHashAlgo alg, const void *key, size_t nkey,
                       const void *buf, size_t len, guint8 *out, GError **errp)
{
    const QCryptoHmacOps *ops = qcrypto_hmac_ops(alg);
    void *ctx;

    if (!ops) {
        error_setg(errp, "Unknown hash algorithm %d for HMAC", (int)alg);
        return -1;
    }
    ctx = qemu_secmem_alloc(ops->ctx_len);
    ops->set_key(ctx, nkey, key);
    ops->update(ctx, len, buf);
    ops->digest(ctx, ops->digest_len, out);
    qemu_secmem_free(ctx, ops->ctx_len);
    return 0;
}
