/*
 * Internal contract between the cipher dispatcher (cipher.c) and its
 * backends (cipher-gnutls.c, cipher-nettle.c).  Not a public header.
 */
#ifndef QCRYPTO_CIPHERPRIV_H
#define QCRYPTO_CIPHERPRIV_H

#include "crypto/cipher.h"

typedef struct QCryptoCipherDriver {
    const char *name;
    /* iv has been validated: niv is the block length */
    void (*setiv)(QCryptoCipher *cipher, const guint8 *iv, size_t niv);
    /* len has been validated for the mode */
    int (*encrypt)(QCryptoCipher *cipher, const void *in, void *out,
                   size_t len, GError **errp);
    int (*decrypt)(QCryptoCipher *cipher, const void *in, void *out,
                   size_t len, GError **errp);
    void (*free)(QCryptoCipher *cipher);
    /*
     * Optional: a run of sectors in one call (arguments validated).  The
     * backends without it get setiv + encrypt per sector from cipher.c.
     */
    void (*crypt_sectors)(QCryptoCipher *cipher, bool encrypt,
                          const QCryptoCipherSectors *s, const void *in,
                          void *out, size_t len);
} QCryptoCipherDriver;

/* Every backend object starts with this. */
struct QCryptoCipher {
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    const QCryptoCipherDriver *driver;
};

typedef enum {
    QCRYPTO_CIPHER_BACKEND_AUTO,
    QCRYPTO_CIPHER_BACKEND_GNUTLS,
    QCRYPTO_CIPHER_BACKEND_NETTLE,
    QCRYPTO_CIPHER_BACKEND_XTS_AESNI,   /* crypto/xts-aesni.c, 128-bit */
    QCRYPTO_CIPHER_BACKEND_XTS_VAES,    /* crypto/xts-aesni.c, AVX-512 */
} QCryptoCipherBackend;

bool qcrypto_cipher_gnutls_supports(QCryptoCipherAlgo alg,
                                    QCryptoCipherMode mode);
QCryptoCipher *qcrypto_cipher_gnutls_new(QCryptoCipherAlgo alg,
                                         QCryptoCipherMode mode,
                                         const guint8 *key, size_t nkey,
                                         GError **errp);

bool qcrypto_cipher_nettle_supports(QCryptoCipherAlgo alg,
                                    QCryptoCipherMode mode);
QCryptoCipher *qcrypto_cipher_nettle_new(QCryptoCipherAlgo alg,
                                         QCryptoCipherMode mode,
                                         const guint8 *key, size_t nkey,
                                         GError **errp);

/* AES-128/256 XTS on AES-NI (vaes false) or VAES + AVX-512 (vaes true). */
bool qcrypto_cipher_xts_x86_supports(QCryptoCipherAlgo alg,
                                     QCryptoCipherMode mode);
/* Whether this CPU (and OS) runs that code: checked at run time. */
bool qcrypto_cipher_xts_x86_usable(bool vaes);
QCryptoCipher *qcrypto_cipher_xts_x86_new(QCryptoCipherAlgo alg,
                                          QCryptoCipherMode mode,
                                          const guint8 *key, size_t nkey,
                                          bool vaes, GError **errp);

/*
 * Like qcrypto_cipher_new() but with a chosen backend: the tests use it to
 * check that both backends agree where both serve a combination.
 */
QCryptoCipher *qcrypto_cipher_new_backend(QCryptoCipherBackend backend,
                                          QCryptoCipherAlgo alg,
                                          QCryptoCipherMode mode,
                                          const guint8 *key, size_t nkey,
                                          GError **errp);
/* Name of the backend serving a cipher ("gnutls", "nettle", "xts-vaes",
 * "xts-aesni"). */
const char *qcrypto_cipher_backend_name(const QCryptoCipher *cipher);

/* Lower-case names as in the schema, for error messages. */
const char *qcrypto_cipher_alg_name(QCryptoCipherAlgo alg);
const char *qcrypto_cipher_mode_name(QCryptoCipherMode mode);

#endif
