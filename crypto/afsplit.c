/*
 * The LUKS1 anti-forensic information splitter (cryptsetup's AF_split /
 * AF_merge).  The key is spread over `stripes` blocks: all but the last are
 * random, each is XORed into an accumulator that is then "diffused" with the
 * hash, and the last stripe is accumulator XOR key.  Losing any one stripe
 * loses the key.
 *
 * Diffusion, per digest-sized chunk i of the block (the last chunk may be
 * short): chunk = HASH(be32(i) || chunk), truncated to the chunk length.
 */
#include <string.h>
#include "qemu/bswap.h"
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/afsplit.h"
#include "crypto/hash.h"
#include "crypto/hashpriv.h"
#include "crypto/random.h"

#define AF_MAX_DIGEST 64

/* ctx: scratch of meta->context_size bytes (locked: it sees key data). */
static void af_diffuse(const struct nettle_hash *meta, void *ctx,
                       guint8 *block, size_t blocklen)
{
    size_t dlen = meta->digest_size;
    guint8 digest[AF_MAX_DIGEST];
    size_t off;
    uint32_t i;

    for (i = 0, off = 0; off < blocklen; i++, off += dlen) {
        size_t chunk = MIN(dlen, blocklen - off);
        guint8 be[4];

        stl_be_p(be, i);
        meta->init(ctx);
        meta->update(ctx, sizeof(be), be);
        meta->update(ctx, chunk, block + off);
        meta->digest(ctx, dlen, digest);
        memcpy(block + off, digest, chunk);
    }
    qemu_secmem_wipe(digest, sizeof(digest));
}

static void af_xor(guint8 *dst, const guint8 *src, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        dst[i] ^= src[i];
    }
}

static bool af_check(QCryptoHashAlgo hash, size_t blocklen, uint32_t stripes,
                     GError **errp)
{
    if (!qcrypto_hash_supports(hash) ||
        qcrypto_hash_digest_len(hash) > AF_MAX_DIGEST) {
        error_setg(errp, "Unknown hash algorithm %d for anti-forensic split",
                   (int)hash);
        return false;
    }
    if (stripes == 0 || blocklen == 0) {
        error_setg(errp, "Anti-forensic split needs at least one stripe and "
                   "a non-empty block");
        return false;
    }
    if (blocklen > SIZE_MAX / stripes) {
        error_setg(errp, "Anti-forensic split area is too large");
        return false;
    }
    return true;
}

int qcrypto_afsplit_encode(QCryptoHashAlgo hash, size_t blocklen,
                           uint32_t stripes, const guint8 *in, guint8 *out,
                           GError **errp)
{
    const struct nettle_hash *meta = qcrypto_hash_nettle_meta(hash);
    guint8 *acc, *ctx;
    uint32_t i;
    int ret = -1;

    if (!af_check(hash, blocklen, stripes, errp)) {
        return -1;
    }
    acc = qemu_secmem_alloc(blocklen);
    ctx = qemu_secmem_alloc(meta->context_size);
    if (qcrypto_random_bytes(out, blocklen * (stripes - 1), errp) < 0) {
        goto out;
    }
    for (i = 0; i < stripes - 1; i++) {
        af_xor(acc, out + (size_t)i * blocklen, blocklen);
        af_diffuse(meta, ctx, acc, blocklen);
    }
    af_xor(acc, in, blocklen);
    memcpy(out + (size_t)(stripes - 1) * blocklen, acc, blocklen);
    ret = 0;
out:
    qemu_secmem_free(ctx, meta->context_size);
    qemu_secmem_free(acc, blocklen);
    return ret;
}

int qcrypto_afsplit_decode(QCryptoHashAlgo hash, size_t blocklen,
                           uint32_t stripes, const guint8 *in, guint8 *out,
                           GError **errp)
{
    const struct nettle_hash *meta = qcrypto_hash_nettle_meta(hash);
    guint8 *acc, *ctx;
    uint32_t i;

    if (!af_check(hash, blocklen, stripes, errp)) {
        return -1;
    }
    acc = qemu_secmem_alloc(blocklen);
    ctx = qemu_secmem_alloc(meta->context_size);
    for (i = 0; i < stripes - 1; i++) {
        af_xor(acc, in + (size_t)i * blocklen, blocklen);
        af_diffuse(meta, ctx, acc, blocklen);
    }
    af_xor(acc, in + (size_t)(stripes - 1) * blocklen, blocklen);
    memcpy(out, acc, blocklen);
    qemu_secmem_free(ctx, meta->context_size);
    qemu_secmem_free(acc, blocklen);
    return 0;
}
