/*
 * Hashes: GnuTLS for the algorithms it provides, Nettle for ripemd160
 * (GnuTLS dropped it).  Both one-shot and incremental use.
 */
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <nettle/nettle-meta.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/hashpriv.h"

typedef struct {
    const char *name;
    size_t digest_len;
    gnutls_digest_algorithm_t gnutls_alg;   /* GNUTLS_DIG_UNKNOWN: none */
    const struct nettle_hash *nettle_alg;
} QCryptoHashInfo;

static const QCryptoHashInfo hash_info[QCRYPTO_HASH_ALGO__MAX] = {
    [QCRYPTO_HASH_ALGO_MD5] = { "md5", 16, GNUTLS_DIG_MD5, &nettle_md5 },
    [QCRYPTO_HASH_ALGO_SHA1] = { "sha1", 20, GNUTLS_DIG_SHA1, &nettle_sha1 },
    [QCRYPTO_HASH_ALGO_SHA224] = { "sha224", 28, GNUTLS_DIG_SHA224,
                                   &nettle_sha224 },
    [QCRYPTO_HASH_ALGO_SHA256] = { "sha256", 32, GNUTLS_DIG_SHA256,
                                   &nettle_sha256 },
    [QCRYPTO_HASH_ALGO_SHA384] = { "sha384", 48, GNUTLS_DIG_SHA384,
                                   &nettle_sha384 },
    [QCRYPTO_HASH_ALGO_SHA512] = { "sha512", 64, GNUTLS_DIG_SHA512,
                                   &nettle_sha512 },
    [QCRYPTO_HASH_ALGO_RIPEMD160] = { "ripemd160", 20, GNUTLS_DIG_UNKNOWN,
                                      &nettle_ripemd160 },
};

struct QCryptoHash {
    QCryptoHashAlgo alg;
    gnutls_hash_hd_t gnutls;          /* NULL when Nettle serves it */
    size_t nettle_ctx_len;
    void *nettle_ctx;                 /* locked: may hash key material */
};

static bool hash_valid(QCryptoHashAlgo alg)
{
    return (unsigned)alg < QCRYPTO_HASH_ALGO__MAX;
}

bool qcrypto_hash_supports(QCryptoHashAlgo alg)
{
    return hash_valid(alg);
}

size_t qcrypto_hash_digest_len(QCryptoHashAlgo alg)
{
    return hash_valid(alg) ? hash_info[alg].digest_len : 0;
}

static bool hash_check(QCryptoHashAlgo alg, GError **errp)
{
    if (!hash_valid(alg)) {
        error_setg(errp, "Unknown hash algorithm %d", (int)alg);
        return false;
    }
    return true;
}

QCryptoHash *qcrypto_hash_new(QCryptoHashAlgo alg, GError **errp)
{
    const QCryptoHashInfo *info;
    QCryptoHash *h;

    if (!hash_check(alg, errp)) {
        return NULL;
    }
    info = &hash_info[alg];
    h = g_new0(QCryptoHash, 1);
    h->alg = alg;
    if (info->gnutls_alg != GNUTLS_DIG_UNKNOWN &&
        gnutls_hash_init(&h->gnutls, info->gnutls_alg) == 0) {
        return h;
    }
    h->gnutls = NULL;
    h->nettle_ctx_len = info->nettle_alg->context_size;
    h->nettle_ctx = qemu_secmem_alloc(h->nettle_ctx_len);
    info->nettle_alg->init(h->nettle_ctx);
    return h;
}

void qcrypto_hash_update(QCryptoHash *h, const void *buf, size_t len)
{
    if (h->gnutls) {
        /* Only fails on invalid arguments, which cannot happen here. */
        (void)gnutls_hash(h->gnutls, buf, len);
    } else {
        hash_info[h->alg].nettle_alg->update(h->nettle_ctx, len, buf);
    }
}

void qcrypto_hash_finish(QCryptoHash *h, guint8 *out)
{
    const QCryptoHashInfo *info = &hash_info[h->alg];

    if (h->gnutls) {
        gnutls_hash_deinit(h->gnutls, out);
    } else {
        info->nettle_alg->digest(h->nettle_ctx, info->digest_len, out);
        qemu_secmem_free(h->nettle_ctx, h->nettle_ctx_len);
    }
    g_free(h);
}

int qcrypto_hash_bytes(QCryptoHashAlgo alg, const void *buf, size_t len,
                       guint8 *out, GError **errp)
{
    QCryptoHash *h = qcrypto_hash_new(alg, errp);

    if (!h) {
        return -1;
    }
    qcrypto_hash_update(h, buf, len);
    qcrypto_hash_finish(h, out);
    return 0;
}

const char *qcrypto_hash_name(QCryptoHashAlgo alg)
{
    return hash_valid(alg) ? hash_info[alg].name : "(invalid hash)";
}

const struct nettle_hash *qcrypto_hash_nettle_meta(QCryptoHashAlgo alg)
{
    return hash_valid(alg) ? hash_info[alg].nettle_alg : NULL;
}
