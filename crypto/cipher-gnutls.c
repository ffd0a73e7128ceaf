/*
 * GnuTLS cipher backend: AES in CBC and XTS mode, where GnuTLS uses AES-NI
 * (and VAES) and is several times faster than Nettle.  GnuTLS has no ECB or
 * bare CTR interface and no 192-bit XTS; Nettle serves those.
 *
 * Setting the IV is a plain copy inside GnuTLS, so per-sector use (a new
 * IV every 512 bytes) stays cheap.
 */
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/cipherpriv.h"

typedef struct QCryptoCipherGnutls {
    QCryptoCipher base;
    gnutls_cipher_hd_t handle;
} QCryptoCipherGnutls;

static gnutls_cipher_algorithm_t gnutls_alg_for(QCryptoCipherAlgo alg,
                                                QCryptoCipherMode mode)
{
    if (mode == QCRYPTO_CIPHER_MODE_CBC) {
        switch (alg) {
        case QCRYPTO_CIPHER_ALGO_AES_128:
            return GNUTLS_CIPHER_AES_128_CBC;
        case QCRYPTO_CIPHER_ALGO_AES_192:
            return GNUTLS_CIPHER_AES_192_CBC;
        case QCRYPTO_CIPHER_ALGO_AES_256:
            return GNUTLS_CIPHER_AES_256_CBC;
        default:
            return GNUTLS_CIPHER_UNKNOWN;
        }
    }
    if (mode == QCRYPTO_CIPHER_MODE_XTS) {
        switch (alg) {
        case QCRYPTO_CIPHER_ALGO_AES_128:
            return GNUTLS_CIPHER_AES_128_XTS;
        case QCRYPTO_CIPHER_ALGO_AES_256:
            return GNUTLS_CIPHER_AES_256_XTS;
        default:
            return GNUTLS_CIPHER_UNKNOWN;
        }
    }
    return GNUTLS_CIPHER_UNKNOWN;
}

static gboolean gnutls_alg_available(gnutls_cipher_algorithm_t galg)
{
    const gnutls_cipher_algorithm_t *list = gnutls_cipher_list();

    for (; *list != GNUTLS_CIPHER_UNKNOWN; list++) {
        if (*list == galg) {
            return TRUE;
        }
    }
    /* gnutls_cipher_list() omits some raw-API-only ciphers; try one. */
    return gnutls_cipher_get_key_size(galg) > 0;
}

bool qcrypto_cipher_gnutls_supports(QCryptoCipherAlgo alg,
                                    QCryptoCipherMode mode)
{
    gnutls_cipher_algorithm_t galg = gnutls_alg_for(alg, mode);

    return galg != GNUTLS_CIPHER_UNKNOWN && gnutls_alg_available(galg);
}

static void gnutls_setiv(QCryptoCipher *cipher, const guint8 *iv, size_t niv)
{
    QCryptoCipherGnutls *c = (QCryptoCipherGnutls *)cipher;

    gnutls_cipher_set_iv(c->handle, (void *)iv, niv);
}

static int gnutls_encrypt(QCryptoCipher *cipher, const void *in, void *out,
                          size_t len, GError **errp)
{
    QCryptoCipherGnutls *c = (QCryptoCipherGnutls *)cipher;
    int ret = gnutls_cipher_encrypt2(c->handle, in, len, out, len);

    if (ret < 0) {
        error_setg(errp, "Cannot encrypt data: %s", gnutls_strerror(ret));
        return -1;
    }
    return 0;
}

static int gnutls_decrypt(QCryptoCipher *cipher, const void *in, void *out,
                          size_t len, GError **errp)
{
    QCryptoCipherGnutls *c = (QCryptoCipherGnutls *)cipher;
    int ret = gnutls_cipher_decrypt2(c->handle, in, len, out, len);

    if (ret < 0) {
        error_setg(errp, "Cannot decrypt data: %s", gnutls_strerror(ret));
        return -1;
    }
    return 0;
}

static void gnutls_free_cipher(QCryptoCipher *cipher)
{
    QCryptoCipherGnutls *c = (QCryptoCipherGnutls *)cipher;

    /* gnutls_cipher_deinit() wipes the key schedule it allocated. */
    gnutls_cipher_deinit(c->handle);
    qemu_secmem_free(c, sizeof(*c));
}

static const QCryptoCipherDriver gnutls_driver = {
    .name = "gnutls",
    .setiv = gnutls_setiv,
    .encrypt = gnutls_encrypt,
    .decrypt = gnutls_decrypt,
    .free = gnutls_free_cipher,
};

QCryptoCipher *qcrypto_cipher_gnutls_new(QCryptoCipherAlgo alg,
                                         QCryptoCipherMode mode,
                                         const guint8 *key, size_t nkey,
                                         GError **errp)
{
    gnutls_cipher_algorithm_t galg = gnutls_alg_for(alg, mode);
    QCryptoCipherGnutls *c;
    gnutls_datum_t gkey = { .data = (unsigned char *)key, .size = nkey };
    guint8 zero_iv[16] = { 0 };
    gnutls_datum_t giv = { .data = zero_iv, .size = sizeof(zero_iv) };
    int ret;

    c = qemu_secmem_alloc(sizeof(*c));
    c->base.alg = alg;
    c->base.mode = mode;
    c->base.driver = &gnutls_driver;
    ret = gnutls_cipher_init(&c->handle, galg, &gkey, &giv);
    if (ret < 0) {
        error_setg(errp, "Cannot initialize GnuTLS cipher %s-%s: %s",
                   qcrypto_cipher_alg_name(alg), qcrypto_cipher_mode_name(mode),
                   gnutls_strerror(ret));
        qemu_secmem_free(c, sizeof(*c));
        return NULL;
    }
    return &c->base;
}
