/* Initialisation vector generators for sector encryption. */
#ifndef QCRYPTO_IVGEN_H
#define QCRYPTO_IVGEN_H

#include <stdint.h>
#include <glib.h>
#include "qapi/qapi-types-crypto.h"

typedef struct QCryptoIVGen QCryptoIVGen;

/*
 * plain: low 32 bits of the sector, little endian, zero padded to niv.
 * plain64: 64-bit sector, little endian, zero padded.
 * essiv: plain64 encrypted (ecb) with cipher_alg keyed by hash(key), where the
 * essiv cipher key size is the hash's digest size (e.g. aes-256 for sha256).
 * cipher_alg/hash/key are only used by essiv.
 */
QCryptoIVGen *qcrypto_ivgen_new(QCryptoIVGenAlgo alg, QCryptoCipherAlgo cipher_alg,
                                QCryptoHashAlgo hash, const guint8 *key,
                                size_t nkey, GError **errp);
int qcrypto_ivgen_calculate(QCryptoIVGen *ivgen, uint64_t sector,
                            guint8 *iv, size_t niv, GError **errp);
void qcrypto_ivgen_free(QCryptoIVGen *ivgen);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoIVGen, qcrypto_ivgen_free)

/* The essiv cipher chosen for cipher_alg and hash (key size = digest size). */
int qcrypto_ivgen_essiv_cipher(QCryptoCipherAlgo cipher_alg, QCryptoHashAlgo hash,
                               QCryptoCipherAlgo *out, GError **errp);

#endif
