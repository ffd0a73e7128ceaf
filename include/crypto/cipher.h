/*
 * Block ciphers in ecb, cbc, xts and ctr mode.  One interface; the backend
 * (AES-NI/VAES code for AES-XTS, GnuTLS for other accelerated AES, Nettle
 * for the rest) is chosen internally.
 */
#ifndef QCRYPTO_CIPHER_H
#define QCRYPTO_CIPHER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"   /* QCryptoCipherAlgo, QCryptoCipherMode */

typedef struct QCryptoCipher QCryptoCipher;

/* Block size of the algorithm in bytes (16 for all but cast5, which is 8). */
size_t qcrypto_cipher_get_block_len(QCryptoCipherAlgo alg);
/* Key length in bytes for one cipher instance (not doubled for xts). */
size_t qcrypto_cipher_get_key_len(QCryptoCipherAlgo alg);
/* Key length for alg in mode (xts: twice the cipher key length). */
size_t qcrypto_cipher_get_mode_key_len(QCryptoCipherAlgo alg,
                                       QCryptoCipherMode mode);
bool qcrypto_cipher_supports(QCryptoCipherAlgo alg, QCryptoCipherMode mode);

/* The key is copied into locked memory owned by the cipher. */
QCryptoCipher *qcrypto_cipher_new(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                                  const guint8 *key, size_t nkey, GError **errp);
void qcrypto_cipher_free(QCryptoCipher *cipher);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoCipher, qcrypto_cipher_free)

/* Set the IV (block length bytes; for xts the 16-byte tweak). Not used by ecb. */
int qcrypto_cipher_setiv(QCryptoCipher *cipher, const guint8 *iv, size_t niv,
                         GError **errp);

/* len must be a multiple of the block length (xts: >= 16). in may equal out. */
int qcrypto_cipher_encrypt(QCryptoCipher *cipher, const void *in, void *out,
                           size_t len, GError **errp);
int qcrypto_cipher_decrypt(QCryptoCipher *cipher, const void *in, void *out,
                           size_t len, GError **errp);

/*
 * A run of consecutive sectors with plain64 / plain IVs: sector k (at
 * in + k * sector_size) gets the IV LE(first_iv + k * iv_step) & iv_mask,
 * zero padded to the block length (iv_mask ~0 for plain64, 0xffffffff for
 * plain).
 */
typedef struct QCryptoCipherSectors {
    uint64_t first_iv;
    uint64_t iv_step;
    uint64_t iv_mask;
    size_t sector_size;    /* a multiple of the block length */
} QCryptoCipherSectors;

/*
 * En/decrypt len bytes (a multiple of sector_size) as such a run.  Equal to
 * setiv + encrypt per sector; the AES-XTS backend of AES-NI CPUs does it in
 * one call.  Leaves the IV set by qcrypto_cipher_setiv() alone.
 */
int qcrypto_cipher_crypt_sectors(QCryptoCipher *cipher, bool encrypt,
                                 const QCryptoCipherSectors *s,
                                 const void *in, void *out, size_t len,
                                 GError **errp);

#endif
