/*
 * IV generators for sector encryption: plain, plain64 and essiv (as in
 * dm-crypt / cryptsetup).
 *
 * ESSIV: salt = HASH(master key); the IV cipher is the data cipher's family
 * with a key size equal to the digest size; IV = ECB-encrypt(plain64 sector).
 * ECB encryption keeps no state, so qcrypto_ivgen_calculate() may be called
 * from several threads on one generator.
 */
#include <string.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/ivgen.h"
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "crypto/cipherpriv.h"
#include "crypto/hashpriv.h"

#define IVGEN_MAX_BLOCK 16

struct QCryptoIVGen {
    QCryptoIVGenAlgo alg;
    QCryptoCipher *essiv;      /* essiv only */
    size_t essiv_block;
};

/* The cipher families, each listed by key size. */
static const QCryptoCipherAlgo essiv_families[][3] = {
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_ALGO_AES_192,
      QCRYPTO_CIPHER_ALGO_AES_256 },
    { QCRYPTO_CIPHER_ALGO_SERPENT_128, QCRYPTO_CIPHER_ALGO_SERPENT_192,
      QCRYPTO_CIPHER_ALGO_SERPENT_256 },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_128, QCRYPTO_CIPHER_ALGO_TWOFISH_192,
      QCRYPTO_CIPHER_ALGO_TWOFISH_256 },
    { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_ALGO__MAX,
      QCRYPTO_CIPHER_ALGO__MAX },
};

int qcrypto_ivgen_essiv_cipher(QCryptoCipherAlgo cipher_alg,
                               QCryptoHashAlgo hash,
                               QCryptoCipherAlgo *out, GError **errp)
{
    size_t digest_len = qcrypto_hash_digest_len(hash);
    size_t f, k;

    if (!qcrypto_hash_supports(hash)) {
        error_setg(errp, "Unknown hash algorithm %d for essiv", (int)hash);
        return -1;
    }
    for (f = 0; f < G_N_ELEMENTS(essiv_families); f++) {
        bool in_family = false;

        for (k = 0; k < 3; k++) {
            in_family |= essiv_families[f][k] == cipher_alg;
        }
        if (!in_family) {
            continue;
        }
        for (k = 0; k < 3; k++) {
            QCryptoCipherAlgo cand = essiv_families[f][k];

            if (cand != QCRYPTO_CIPHER_ALGO__MAX &&
                qcrypto_cipher_get_key_len(cand) == digest_len) {
                *out = cand;
                return 0;
            }
        }
        error_setg(errp, "Cannot use essiv with cipher '%s' and hash '%s': "
                   "the %zu-byte digest is not a valid key size for that "
                   "cipher", qcrypto_cipher_alg_name(cipher_alg),
                   qcrypto_hash_name(hash), digest_len);
        return -1;
    }
    error_setg(errp, "Unknown cipher algorithm %d for essiv", (int)cipher_alg);
    return -1;
}

static int ivgen_essiv_init(QCryptoIVGen *ivgen, QCryptoCipherAlgo cipher_alg,
                            QCryptoHashAlgo hash, const guint8 *key,
                            size_t nkey, GError **errp)
{
    QCryptoCipherAlgo essiv_alg;
    size_t salt_len;
    guint8 *salt;

    if (qcrypto_ivgen_essiv_cipher(cipher_alg, hash, &essiv_alg, errp) < 0) {
        return -1;
    }
    salt_len = qcrypto_hash_digest_len(hash);
    salt = qemu_secmem_alloc(salt_len);
    if (qcrypto_hash_bytes(hash, key, nkey, salt, errp) < 0) {
        qemu_secmem_free(salt, salt_len);
        return -1;
    }
    ivgen->essiv = qcrypto_cipher_new(essiv_alg, QCRYPTO_CIPHER_MODE_ECB,
                                      salt, salt_len, errp);
    qemu_secmem_free(salt, salt_len);
    if (!ivgen->essiv) {
        return -1;
    }
    ivgen->essiv_block = qcrypto_cipher_get_block_len(essiv_alg);
    return 0;
}

QCryptoIVGen *qcrypto_ivgen_new(QCryptoIVGenAlgo alg,
                                QCryptoCipherAlgo cipher_alg,
                                QCryptoHashAlgo hash, const guint8 *key,
                                size_t nkey, GError **errp)
{
    QCryptoIVGen *ivgen;

    if ((unsigned)alg >= QCRYPTO_IV_GEN_ALGO__MAX) {
        error_setg(errp, "Unknown IV generator algorithm %d", (int)alg);
        return NULL;
    }
    ivgen = g_new0(QCryptoIVGen, 1);
    ivgen->alg = alg;
    if (alg == QCRYPTO_IV_GEN_ALGO_ESSIV &&
        ivgen_essiv_init(ivgen, cipher_alg, hash, key, nkey, errp) < 0) {
        g_free(ivgen);
        return NULL;
    }
    return ivgen;
}

/* Little-endian sector number, truncated or zero padded to niv bytes. */
static void ivgen_put_le(guint8 *iv, size_t niv, uint64_t sector)
{
    size_t i;

    memset(iv, 0, niv);
    for (i = 0; i < niv && i < 8; i++) {
        iv[i] = (guint8)(sector >> (8 * i));
    }
}

int qcrypto_ivgen_calculate(QCryptoIVGen *ivgen, uint64_t sector,
                            guint8 *iv, size_t niv, GError **errp)
{
    guint8 block[IVGEN_MAX_BLOCK];

    switch (ivgen->alg) {
    case QCRYPTO_IV_GEN_ALGO_PLAIN:
        ivgen_put_le(iv, niv, sector & 0xffffffffULL);
        return 0;
    case QCRYPTO_IV_GEN_ALGO_PLAIN64:
        ivgen_put_le(iv, niv, sector);
        return 0;
    case QCRYPTO_IV_GEN_ALGO_ESSIV:
        if (niv > ivgen->essiv_block) {
            error_setg(errp, "IV length %zu exceeds the essiv cipher block "
                       "length %zu", niv, ivgen->essiv_block);
            return -1;
        }
        ivgen_put_le(block, ivgen->essiv_block, sector);
        if (qcrypto_cipher_encrypt(ivgen->essiv, block, block,
                                   ivgen->essiv_block, errp) < 0) {
            return -1;
        }
        memcpy(iv, block, niv);
        return 0;
    default:
        error_setg(errp, "Unknown IV generator algorithm %d", (int)ivgen->alg);
        return -1;
    }
}

void qcrypto_ivgen_free(QCryptoIVGen *ivgen)
{
    if (ivgen) {
        qcrypto_cipher_free(ivgen->essiv);
        g_free(ivgen);
    }
}
