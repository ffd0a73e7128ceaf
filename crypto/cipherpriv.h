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

/*
 * Like qcrypto_cipher_new() but with a chosen backend: the tests use it to
 * check that both backends agree where both serve a combination.
 */
QCryptoCipher *qcrypto_cipher_new_backend(QCryptoCipherBackend backend,
                                          QCryptoCipherAlgo alg,
                                          QCryptoCipherMode mode,
                                          const guint8 *key, size_t nkey,
                                          GError **errp);
/* Name of the backend serving a cipher ("gnutls" or "nettle"). */
const char *qcrypto_cipher_backend_name(const QCryptoCipher *cipher);

/* Lower-case names as in the schema, for error messages. */
const char *qcrypto_cipher_alg_name(QCryptoCipherAlgo alg);
const char *qcrypto_cipher_mode_name(QCryptoCipherMode mode);

#endif
