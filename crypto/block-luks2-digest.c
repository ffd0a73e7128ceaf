/*
 * LUKS2 digests: the pbkdf2 check that a key is the volume key, and the
 * digest of a new volume key.  The digests' JSON is in
 * block-luks2-json-digest.c.
 */
#include <string.h>
#include "crypto/block-luks2-int.h"
#include "crypto/hash.h"
#include "crypto/pbkdf.h"
#include "crypto/random.h"

int qcrypto_luks2_digest_verify(const LUKS2Digest *dg, const QemuSecBuf *key,
                                const gint *cancel, GError **errp)
{
    guint8 out[LUKS2_MAX_DIGEST];

    if (qcrypto_pbkdf2_cancellable(dg->hash, key->data, key->len, dg->salt,
                                   dg->nsalt, dg->iterations, out,
                                   dg->ndigest, cancel, errp) < 0) {
        return -1;
    }
    return memcmp(out, dg->digest, dg->ndigest) == 0;
}

uint32_t qcrypto_luks2_digest_iters(QCryptoHashAlgo hash, size_t nkey,
                                    uint64_t iter_time, GError **errp)
{
    uint64_t n = qcrypto_luks2_test_pbkdf2_iters;

    if (n) {
        return n;
    }
    /*
     * An eighth of iter-time, as QEMU's LUKS1 master key digest; capped
     * at cryptsetup's LUKS2 digest time, which the default iter-time
     * gives exactly.  Small iter-times make every open and every
     * reencryption commit cheap.
     */
    iter_time = MIN(iter_time, LUKS2_DIGEST_ITER_TIME * LUKS2_DIGEST_TIME_DIV);
    n = qcrypto_pbkdf2_count_iters(hash, nkey, LUKS2_KDF_SALT_LEN,
                                   qcrypto_hash_digest_len(hash), iter_time,
                                   errp);
    if (!n) {
        return 0;
    }
    return CLAMP(n / LUKS2_DIGEST_TIME_DIV, LUKS2_MIN_PBKDF2_ITERS,
                 UINT32_MAX);
}

int qcrypto_luks2_digest_new(LUKS2Digest *dg, QCryptoHashAlgo hash,
                             const QemuSecBuf *mk, uint64_t iter_time,
                             GError **errp)
{
    memset(dg, 0, sizeof(*dg));
    dg->hash = hash;
    dg->nsalt = LUKS2_KDF_SALT_LEN;
    dg->ndigest = qcrypto_hash_digest_len(hash);
    dg->iterations = qcrypto_luks2_digest_iters(hash, mk->len, iter_time,
                                                errp);
    if (!dg->iterations ||
        qcrypto_random_bytes(dg->salt, dg->nsalt, errp) < 0 ||
        qcrypto_pbkdf2(hash, mk->data, mk->len, dg->salt, dg->nsalt,
                       dg->iterations, dg->digest, dg->ndigest, errp) < 0) {
        return -1;
    }
    return 0;
}
