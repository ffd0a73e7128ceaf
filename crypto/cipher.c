/*
 * Cipher dispatch: validates arguments once, then hands the work to the
 * backend that serves the algorithm/mode pair (AES-XTS: crypto/xts-aesni.c
 * where the CPU runs it; other accelerated AES: GnuTLS; Nettle for
 * everything else).  Callers never see which one it is.
 */
#include "qemu/error.h"
#include "crypto/cipherpriv.h"

static const struct {
    const char *name;
    size_t key_len;
    size_t block_len;
} cipher_info[QCRYPTO_CIPHER_ALGO__MAX] = {
    [QCRYPTO_CIPHER_ALGO_AES_128] = { "aes-128", 16, 16 },
    [QCRYPTO_CIPHER_ALGO_AES_192] = { "aes-192", 24, 16 },
    [QCRYPTO_CIPHER_ALGO_AES_256] = { "aes-256", 32, 16 },
    [QCRYPTO_CIPHER_ALGO_CAST5_128] = { "cast5-128", 16, 8 },
    [QCRYPTO_CIPHER_ALGO_SERPENT_128] = { "serpent-128", 16, 16 },
    [QCRYPTO_CIPHER_ALGO_SERPENT_192] = { "serpent-192", 24, 16 },
    [QCRYPTO_CIPHER_ALGO_SERPENT_256] = { "serpent-256", 32, 16 },
    [QCRYPTO_CIPHER_ALGO_TWOFISH_128] = { "twofish-128", 16, 16 },
    [QCRYPTO_CIPHER_ALGO_TWOFISH_192] = { "twofish-192", 24, 16 },
    [QCRYPTO_CIPHER_ALGO_TWOFISH_256] = { "twofish-256", 32, 16 },
};

static const char *const mode_names[QCRYPTO_CIPHER_MODE__MAX] = {
    [QCRYPTO_CIPHER_MODE_ECB] = "ecb",
    [QCRYPTO_CIPHER_MODE_CBC] = "cbc",
    [QCRYPTO_CIPHER_MODE_XTS] = "xts",
    [QCRYPTO_CIPHER_MODE_CTR] = "ctr",
};

static bool alg_valid(QCryptoCipherAlgo alg)
{
    return (unsigned)alg < QCRYPTO_CIPHER_ALGO__MAX;
}

static bool mode_valid(QCryptoCipherMode mode)
{
    return (unsigned)mode < QCRYPTO_CIPHER_MODE__MAX;
}

const char *qcrypto_cipher_alg_name(QCryptoCipherAlgo alg)
{
    return alg_valid(alg) ? cipher_info[alg].name : "(invalid cipher)";
}

const char *qcrypto_cipher_mode_name(QCryptoCipherMode mode)
{
    return mode_valid(mode) ? mode_names[mode] : "(invalid mode)";
}

size_t qcrypto_cipher_get_block_len(QCryptoCipherAlgo alg)
{
    return alg_valid(alg) ? cipher_info[alg].block_len : 0;
}

size_t qcrypto_cipher_get_key_len(QCryptoCipherAlgo alg)
{
    return alg_valid(alg) ? cipher_info[alg].key_len : 0;
}

size_t qcrypto_cipher_get_mode_key_len(QCryptoCipherAlgo alg,
                                       QCryptoCipherMode mode)
{
    size_t len = qcrypto_cipher_get_key_len(alg);

    return mode == QCRYPTO_CIPHER_MODE_XTS ? len * 2 : len;
}

bool qcrypto_cipher_supports(QCryptoCipherAlgo alg, QCryptoCipherMode mode)
{
    if (!alg_valid(alg) || !mode_valid(mode)) {
        return false;
    }
    return qcrypto_cipher_gnutls_supports(alg, mode) ||
           qcrypto_cipher_nettle_supports(alg, mode);
}

static bool cipher_check_args(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                              size_t nkey, GError **errp)
{
    size_t want;

    if (!alg_valid(alg)) {
        error_setg(errp, "Unknown cipher algorithm %d", (int)alg);
        return false;
    }
    if (!mode_valid(mode)) {
        error_setg(errp, "Unknown cipher mode %d", (int)mode);
        return false;
    }
    if (!qcrypto_cipher_supports(alg, mode)) {
        error_setg(errp, "Cipher '%s' does not support mode '%s'",
                   cipher_info[alg].name, mode_names[mode]);
        return false;
    }
    want = qcrypto_cipher_get_mode_key_len(alg, mode);
    if (nkey != want) {
        error_setg(errp, "Cipher key length %zu bytes does not match %zu "
                   "bytes required by %s-%s", nkey, want,
                   cipher_info[alg].name, mode_names[mode]);
        return false;
    }
    return true;
}

QCryptoCipher *qcrypto_cipher_new_backend(QCryptoCipherBackend backend,
                                          QCryptoCipherAlgo alg,
                                          QCryptoCipherMode mode,
                                          const guint8 *key, size_t nkey,
                                          GError **errp)
{
    if (!cipher_check_args(alg, mode, nkey, errp)) {
        return NULL;
    }
    switch (backend) {
    case QCRYPTO_CIPHER_BACKEND_GNUTLS:
        if (!qcrypto_cipher_gnutls_supports(alg, mode)) {
            error_setg(errp, "GnuTLS backend does not serve %s-%s",
                       cipher_info[alg].name, mode_names[mode]);
            return NULL;
        }
        return qcrypto_cipher_gnutls_new(alg, mode, key, nkey, errp);
    case QCRYPTO_CIPHER_BACKEND_NETTLE:
        if (!qcrypto_cipher_nettle_supports(alg, mode)) {
            error_setg(errp, "Nettle backend does not serve %s-%s",
                       cipher_info[alg].name, mode_names[mode]);
            return NULL;
        }
        return qcrypto_cipher_nettle_new(alg, mode, key, nkey, errp);
    case QCRYPTO_CIPHER_BACKEND_XTS_AESNI:
    case QCRYPTO_CIPHER_BACKEND_XTS_VAES:
        return qcrypto_cipher_xts_x86_new(alg, mode, key, nkey,
                                          backend ==
                                          QCRYPTO_CIPHER_BACKEND_XTS_VAES,
                                          errp);
    case QCRYPTO_CIPHER_BACKEND_AUTO:
    default:
        break;
    }
    /* Multi-sector XTS; below that, the libraries' per-call speed. */
    if (qcrypto_cipher_xts_x86_supports(alg, mode) &&
        qcrypto_cipher_xts_x86_usable(false)) {
        return qcrypto_cipher_xts_x86_new(alg, mode, key, nkey,
                                          qcrypto_cipher_xts_x86_usable(true),
                                          errp);
    }
    if (qcrypto_cipher_gnutls_supports(alg, mode)) {
        QCryptoCipher *c = qcrypto_cipher_gnutls_new(alg, mode, key, nkey,
                                                     NULL);
        if (c) {
            return c;
        }
        /* GnuTLS may refuse a key (policy); Nettle computes the same thing. */
    }
    return qcrypto_cipher_nettle_new(alg, mode, key, nkey, errp);
}

QCryptoCipher *qcrypto_cipher_new(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                                  const guint8 *key, size_t nkey, GError **errp)
{
    return qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_AUTO, alg, mode,
                                      key, nkey, errp);
}

const char *qcrypto_cipher_backend_name(const QCryptoCipher *cipher)
{
    return cipher->driver->name;
}

void qcrypto_cipher_free(QCryptoCipher *cipher)
{
    if (cipher) {
        cipher->driver->free(cipher);
    }
}

int qcrypto_cipher_setiv(QCryptoCipher *cipher, const guint8 *iv, size_t niv,
                         GError **errp)
{
    size_t blen = cipher_info[cipher->alg].block_len;

    if (cipher->mode == QCRYPTO_CIPHER_MODE_ECB) {
        error_setg(errp, "Initialization vector not used in ECB mode");
        return -1;
    }
    if (niv != blen) {
        error_setg(errp, "Initialization vector length %zu bytes does not "
                   "match block length %zu", niv, blen);
        return -1;
    }
    cipher->driver->setiv(cipher, iv, niv);
    return 0;
}

static bool cipher_check_len(QCryptoCipher *cipher, size_t len, GError **errp)
{
    size_t blen = cipher_info[cipher->alg].block_len;

    if (len % blen) {
        error_setg(errp, "Length %zu must be a multiple of the block "
                   "length %zu", len, blen);
        return false;
    }
    if (cipher->mode == QCRYPTO_CIPHER_MODE_XTS && len < blen) {
        error_setg(errp, "XTS mode needs at least one %zu-byte block", blen);
        return false;
    }
    return true;
}

int qcrypto_cipher_encrypt(QCryptoCipher *cipher, const void *in, void *out,
                           size_t len, GError **errp)
{
    if (!cipher_check_len(cipher, len, errp)) {
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    return cipher->driver->encrypt(cipher, in, out, len, errp);
}

int qcrypto_cipher_decrypt(QCryptoCipher *cipher, const void *in, void *out,
                           size_t len, GError **errp)
{
    if (!cipher_check_len(cipher, len, errp)) {
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    return cipher->driver->decrypt(cipher, in, out, len, errp);
}

/* Per sector through setiv + encrypt: the backends without crypt_sectors. */
static int cipher_sectors_loop(QCryptoCipher *cipher, bool encrypt,
                               const QCryptoCipherSectors *s, const guint8 *in,
                               guint8 *out, size_t len, GError **errp)
{
    size_t blen = cipher_info[cipher->alg].block_len;
    uint64_t ivnum = s->first_iv;

    for (size_t off = 0; off < len; off += s->sector_size) {
        guint8 iv[16] = { 0 };
        uint64_t v = ivnum & s->iv_mask;
        int ret;

        for (size_t i = 0; i < blen && i < 8; i++) {
            iv[i] = (guint8)(v >> (8 * i));
        }
        cipher->driver->setiv(cipher, iv, blen);
        ret = encrypt ?
            cipher->driver->encrypt(cipher, in + off, out + off,
                                    s->sector_size, errp) :
            cipher->driver->decrypt(cipher, in + off, out + off,
                                    s->sector_size, errp);
        if (ret < 0) {
            return -1;
        }
        ivnum += s->iv_step;
    }
    return 0;
}

int qcrypto_cipher_crypt_sectors(QCryptoCipher *cipher, bool encrypt,
                                 const QCryptoCipherSectors *s,
                                 const void *in, void *out, size_t len,
                                 GError **errp)
{
    if (cipher->mode == QCRYPTO_CIPHER_MODE_ECB) {
        error_setg(errp, "Initialization vector not used in ECB mode");
        return -1;
    }
    if (s->sector_size == 0 || !cipher_check_len(cipher, s->sector_size,
                                                 errp)) {
        if (s->sector_size == 0) {
            error_setg(errp, "Sector size must not be zero");
        }
        return -1;
    }
    if (len % s->sector_size) {
        error_setg(errp, "Length %zu must be a multiple of the sector size "
                   "%zu", len, s->sector_size);
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    if (cipher->driver->crypt_sectors) {
        cipher->driver->crypt_sectors(cipher, encrypt, s, in, out, len);
        return 0;
    }
    return cipher_sectors_loop(cipher, encrypt, s, in, out, len, errp);
}
