/*
 * Nettle cipher backend: every algorithm and mode (serpent, twofish, cast5,
 * and the AES modes GnuTLS lacks: ecb, ctr, 192-bit xts).  The key
 * schedules live in locked memory together with the object.
 */
#include <string.h>
#include <nettle/nettle-meta.h>
#include <nettle/cbc.h>
#include <nettle/ctr.h>
#include <nettle/memxor.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/cipherpriv.h"

#define NETTLE_MAX_BLOCK 16
#define NETTLE_CTX_ALIGN 64
/* XTS tweaks are computed this many bytes at a time. */
#define XTS_CHUNK 4096

typedef struct QCryptoCipherNettle {
    QCryptoCipher base;
    const struct nettle_cipher *meta;
    size_t alloc_len;
    void *enc;          /* encryption key schedule */
    void *dec;          /* decryption key schedule */
    void *tweak;        /* xts: tweak encryption key schedule */
    guint8 iv[NETTLE_MAX_BLOCK];
    guint8 *xts_tweaks;   /* XTS_CHUNK bytes of scratch (xts only) */
} QCryptoCipherNettle;

static const struct nettle_cipher *nettle_meta_for(QCryptoCipherAlgo alg)
{
    switch (alg) {
    case QCRYPTO_CIPHER_ALGO_AES_128:
        return &nettle_aes128;
    case QCRYPTO_CIPHER_ALGO_AES_192:
        return &nettle_aes192;
    case QCRYPTO_CIPHER_ALGO_AES_256:
        return &nettle_aes256;
    case QCRYPTO_CIPHER_ALGO_CAST5_128:
        return &nettle_cast128;
    case QCRYPTO_CIPHER_ALGO_SERPENT_128:
        return &nettle_serpent128;
    case QCRYPTO_CIPHER_ALGO_SERPENT_192:
        return &nettle_serpent192;
    case QCRYPTO_CIPHER_ALGO_SERPENT_256:
        return &nettle_serpent256;
    case QCRYPTO_CIPHER_ALGO_TWOFISH_128:
        return &nettle_twofish128;
    case QCRYPTO_CIPHER_ALGO_TWOFISH_192:
        return &nettle_twofish192;
    case QCRYPTO_CIPHER_ALGO_TWOFISH_256:
        return &nettle_twofish256;
    default:
        return NULL;
    }
}

bool qcrypto_cipher_nettle_supports(QCryptoCipherAlgo alg,
                                    QCryptoCipherMode mode)
{
    const struct nettle_cipher *meta = nettle_meta_for(alg);

    if (!meta) {
        return false;
    }
    switch (mode) {
    case QCRYPTO_CIPHER_MODE_ECB:
    case QCRYPTO_CIPHER_MODE_CBC:
    case QCRYPTO_CIPHER_MODE_CTR:
        return true;
    case QCRYPTO_CIPHER_MODE_XTS:
        /* XTS is defined over 128-bit blocks only (so not cast5). */
        return meta->block_size == 16;
    default:
        return false;
    }
}

/* Multiply a tweak by x in GF(2^128), little-endian (IEEE 1619). */
static void xts_mul_alpha(guint8 *t)
{
    uint64_t lo, hi, carry;

    memcpy(&lo, t, 8);
    memcpy(&hi, t + 8, 8);
    lo = GUINT64_FROM_LE(lo);
    hi = GUINT64_FROM_LE(hi);
    carry = hi >> 63;
    hi = (hi << 1) | (lo >> 63);
    lo = (lo << 1) ^ (carry * 0x87);
    lo = GUINT64_TO_LE(lo);
    hi = GUINT64_TO_LE(hi);
    memcpy(t, &lo, 8);
    memcpy(t + 8, &hi, 8);
}

/*
 * XTS without ciphertext stealing (lengths are whole blocks): C = E(P ^ T)
 * ^ T.  Rather than one cipher call per block (Nettle's xts_*_message), the
 * tweaks of a whole chunk are computed first so that the block cipher runs
 * over many blocks in one call, where Nettle's assembly can interleave
 * them (serpent, aes).
 */
static void nettle_xts(QCryptoCipherNettle *c, nettle_cipher_func *f,
                       const void *ctx, size_t len, guint8 *out,
                       const guint8 *in)
{
    guint8 t[16];
    guint8 *tw = c->xts_tweaks;

    c->meta->encrypt(c->tweak, 16, t, c->iv);
    while (len > 0) {
        size_t n = MIN(len, XTS_CHUNK), j;

        for (j = 0; j < n; j += 16) {
            memcpy(tw + j, t, 16);
            xts_mul_alpha(t);
        }
        memxor3(out, in, tw, n);
        f(ctx, n, out, out);
        memxor(out, tw, n);
        in += n;
        out += n;
        len -= n;
    }
}

static void nettle_setiv(QCryptoCipher *cipher, const guint8 *iv, size_t niv)
{
    QCryptoCipherNettle *c = (QCryptoCipherNettle *)cipher;

    memcpy(c->iv, iv, niv);
}

static int nettle_encrypt(QCryptoCipher *cipher, const void *in, void *out,
                          size_t len, GError **errp)
{
    QCryptoCipherNettle *c = (QCryptoCipherNettle *)cipher;
    const struct nettle_cipher *m = c->meta;

    switch (cipher->mode) {
    case QCRYPTO_CIPHER_MODE_ECB:
        m->encrypt(c->enc, len, out, in);
        break;
    case QCRYPTO_CIPHER_MODE_CBC:
        cbc_encrypt(c->enc, m->encrypt, m->block_size, c->iv, len, out, in);
        break;
    case QCRYPTO_CIPHER_MODE_CTR:
        ctr_crypt(c->enc, m->encrypt, m->block_size, c->iv, len, out, in);
        break;
    case QCRYPTO_CIPHER_MODE_XTS:
        nettle_xts(c, m->encrypt, c->enc, len, out, in);
        break;
    default:
        error_setg(errp, "Unsupported cipher mode");
        return -1;
    }
    return 0;
}

static int nettle_decrypt(QCryptoCipher *cipher, const void *in, void *out,
                          size_t len, GError **errp)
{
    QCryptoCipherNettle *c = (QCryptoCipherNettle *)cipher;
    const struct nettle_cipher *m = c->meta;

    switch (cipher->mode) {
    case QCRYPTO_CIPHER_MODE_ECB:
        m->decrypt(c->dec, len, out, in);
        break;
    case QCRYPTO_CIPHER_MODE_CBC:
        cbc_decrypt(c->dec, m->decrypt, m->block_size, c->iv, len, out, in);
        break;
    case QCRYPTO_CIPHER_MODE_CTR:
        /* CTR decryption is encryption of the counter stream. */
        ctr_crypt(c->enc, m->encrypt, m->block_size, c->iv, len, out, in);
        break;
    case QCRYPTO_CIPHER_MODE_XTS:
        nettle_xts(c, m->decrypt, c->dec, len, out, in);
        break;
    default:
        error_setg(errp, "Unsupported cipher mode");
        return -1;
    }
    return 0;
}

static void nettle_free_cipher(QCryptoCipher *cipher)
{
    QCryptoCipherNettle *c = (QCryptoCipherNettle *)cipher;

    qemu_secmem_free(c, c->alloc_len);
}

static const QCryptoCipherDriver nettle_driver = {
    .name = "nettle",
    .setiv = nettle_setiv,
    .encrypt = nettle_encrypt,
    .decrypt = nettle_decrypt,
    .free = nettle_free_cipher,
};

static size_t ctx_round(size_t n)
{
    return (n + NETTLE_CTX_ALIGN - 1) & ~(size_t)(NETTLE_CTX_ALIGN - 1);
}

QCryptoCipher *qcrypto_cipher_nettle_new(QCryptoCipherAlgo alg,
                                         QCryptoCipherMode mode,
                                         const guint8 *key, size_t nkey,
                                         GError **errp)
{
    const struct nettle_cipher *m = nettle_meta_for(alg);
    size_t head = ctx_round(sizeof(QCryptoCipherNettle));
    size_t csize;
    QCryptoCipherNettle *c;
    guint8 *p;

    if (!m || nkey != m->key_size * (mode == QCRYPTO_CIPHER_MODE_XTS ? 2 : 1)) {
        error_setg(errp, "Nettle backend cannot serve %s-%s with a %zu-byte "
                   "key", qcrypto_cipher_alg_name(alg),
                   qcrypto_cipher_mode_name(mode), nkey);
        return NULL;
    }
    csize = ctx_round(m->context_size);
    /* Header, then encrypt, decrypt and tweak schedules and the xts
     * scratch, all locked. */
    c = qemu_secmem_alloc(head + 3 * csize + XTS_CHUNK);
    c->alloc_len = head + 3 * csize + XTS_CHUNK;
    c->base.alg = alg;
    c->base.mode = mode;
    c->base.driver = &nettle_driver;
    c->meta = m;
    p = (guint8 *)c + head;
    c->enc = p;
    c->dec = p + csize;
    c->tweak = p + 2 * csize;
    c->xts_tweaks = p + 3 * csize;

    m->set_encrypt_key(c->enc, key);
    m->set_decrypt_key(c->dec, key);
    if (mode == QCRYPTO_CIPHER_MODE_XTS) {
        /* XTS key = data key || tweak key */
        m->set_encrypt_key(c->tweak, key + m->key_size);
    }
    return &c->base;
}
